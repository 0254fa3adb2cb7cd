"""The benchmarks themselves: answer webhook throughput, concurrent calls, reply latency, barge-in."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .harness import (
    HANGOVER_MS,
    TOKEN,
    Sampler,
    bench_agents,
    call_stats,
    config,
    load,
    runtime,
    script,
    service_process,
    voice_service,
    wait_idle,
)

# -- 1. answer webhook throughput ---------------------------------------------------------
WRK_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  local id = tostring(math.random(1, 1e9)) .. "-" .. counter
  local body = "from=919876543210&to=919111111111&time=now&cmiuuid=bench-" .. id
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""


def wrk(url: str, seconds: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(WRK_SCRIPT)
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", lua.name, f"{url}/webhooks/piopiy/answer?token={TOKEN}"],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(lua.name)
    for line in out.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(out.stdout)


def bench_answer(tmp: Path, quick: bool) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (make bench installs it)"}
    seconds = 5 if quick else 10
    with service_process(config(tmp), app="bench.bare:app") as bare:
        wrk(bare.url, 2)
        bare_rps = wrk(bare.url, seconds)
    with service_process(config(tmp, VOICE_ENABLED=0)) as svc:
        wrk(svc.url, 2)
        answer_rps = wrk(svc.url, seconds)
    return {"answer_rps": round(answer_rps), "bare_rps": round(bare_rps), "ratio": round(answer_rps / bare_rps, 3)}


# -- 2/3. concurrent calls ---------------------------------------------------------------------
def caller(tmp: Path) -> Path:
    return script(
        tmp,
        "caller",
        {
            "voice": "ko",
            "repeat": True,
            "linger": 0,
            "steps": [{"listen": 1.0}, {"say": "네"}, {"listen": 2.5}, {"say": "아니요"}, {"listen": 2.5}],
        },
    )


def bench_calls(
    tmp: Path, mode: str, steps: list[int], seconds: float, p95_limit: float, warm: bool = True
) -> dict[str, Any]:
    """Steps of ``n`` concurrent calls until one goes over ``p95_limit`` (STT lag) or loses a frame."""
    agents = bench_agents(tmp)
    agent = "bench-phrase" if mode == "phrase" else "bench-free"
    rows = []
    with voice_service(tmp, agents) as svc:
        idle_rss = None
        for n in steps:
            if warm:  # steady state: the pool holds warm recognisers for n calls (see SpeechModels)
                wait_idle(svc.url)
                load(svc, agents, agent, caller(tmp), n, seconds=8, ramp=0.02, timeout=200)
            wait_idle(svc.url)
            runtime(svc.url, reset=True)
            with Sampler(svc) as sampler:
                idle_rss = idle_rss or sampler.rss_now()
                summary = load(
                    svc, agents, agent, caller(tmp), n, seconds=seconds, ramp=0.05, timeout=seconds * 3 + 120
                )
            lags = runtime(svc.url)
            wait_idle(svc.url)
            row = _step_row(n, summary, call_stats(svc.url, summary["call_ids"]), lags, sampler, idle_rss)
            row["ok"] = (
                row["completed"] == n
                and (row["stt_p95_ms"] or 0) <= p95_limit
                and row["frames_lost"] == 0
                and row["frames_dropped"] == 0
            )
            rows.append(row)
            print(
                f"  {mode} {n:>4} calls: stt p95 {row['stt_p95_ms']} ms, lost {row['frames_lost']}, dropped "
                f"{row['frames_dropped']}, cpu {row['cpu_pct_mean']}%, loop p99 {row['loop_lag_p99_ms']} ms "
                f"-> {'ok' if row['ok'] else 'over'}",
                flush=True,
            )
            if not row["ok"]:
                break
    best = max((r["calls"] for r in rows if r["ok"]), default=0)
    return {"mode": mode, "seconds": seconds, "p95_limit_ms": p95_limit, "warm": warm, "steps": rows, "max_calls": best}


def _step_row(
    n: int, summary: dict[str, Any], counted: dict[str, int], lags: dict[str, Any], sampler: Sampler, idle_rss: int
) -> dict[str, Any]:
    """One step's figures: the emulator's summary, the service's counters and runtime, the worker's CPU and RSS."""
    stt = lags["stt_lag"]
    cpu = sorted(sampler.cpu[2:-2] or sampler.cpu or [0])
    return {
        "calls": n,
        "completed": summary["calls"] - summary["failed"],
        "stt_p50_ms": stt.get("p50_ms"),
        "stt_p95_ms": stt.get("p95_ms"),
        "stt_p99_ms": stt.get("p99_ms"),
        "frames_sent": summary["frames_sent"],
        "frames_lost": summary["frames_sent"] - counted["frames_in"],
        "frames_dropped": counted["dropped"],
        "cpu_pct_mean": round(sum(cpu) / len(cpu), 1),
        "cpu_pct_max": round(cpu[-1], 1),
        "rss_mb": round(max(sampler.rss or [0]) / 2**20, 1),
        "rss_per_call_mb": round((max(sampler.rss or [0]) - idle_rss) / n / 2**20, 2),
        "loop_lag_p99_ms": lags["loop_lag"].get("p99_ms"),
        "emulator_send_lag_max_ms": summary["max_send_lag_ms"],
    }


# -- 4. reply latency ---------------------------------------------------------------------------
def bench_latency(tmp: Path, sizes: list[int]) -> dict[str, Any]:
    agents = bench_agents(tmp)
    dialogue = script(
        tmp,
        "dialogue",
        {
            "voice": "ko",
            "linger": 0.3,
            "steps": [
                {"listen": "reply"},
                {"say": "네"},
                {"listen": "reply"},
                {"say": "아니요"},
                {"listen": "reply"},
                {"say": "네"},
                {"listen": "reply"},
            ],
        },
    )
    out = {}
    with voice_service(tmp, agents) as svc:
        for n in sizes:
            wait_idle(svc.url)
            summary = load(svc, agents, "bench-phrase", dialogue, n)
            lat = summary["reply_latency_ms"]
            out[str(n)] = {
                "turns": lat["n"],
                "p50_ms": lat["p50"],
                "p95_ms": lat["p95"],
                "p50_minus_hangover_ms": _minus(lat["p50"]),
                "p95_minus_hangover_ms": _minus(lat["p95"]),
            }
            print(f"  latency at {n:>3} calls: p50 {lat['p50']} ms, p95 {lat['p95']} ms ({lat['n']} turns)", flush=True)
    return out


def _minus(value: float | None) -> float | None:
    return None if value is None else round(value - HANGOVER_MS, 1)


# -- 5. barge-in ---------------------------------------------------------------------------------
def bench_bargein(tmp: Path, calls: int) -> dict[str, Any]:
    agents = bench_agents(tmp)
    interrupting = script(
        tmp, "barge", {"voice": "ko", "linger": 0.3, "steps": [{"listen": 1.2}, {"say": "네"}, {"listen": "reply"}]}
    )
    with voice_service(tmp, agents) as svc:
        summary = load(svc, agents, "bench-phrase", interrupting, calls)
    barge = summary["barge_in_ms"]
    print(f"  barge-in: p50 {barge['p50']} ms, p95 {barge['p95']} ms ({barge['n']} of {calls} calls)", flush=True)
    return {"calls": calls, "breaks": barge["n"], "p50_ms": barge["p50"], "p95_ms": barge["p95"]}
