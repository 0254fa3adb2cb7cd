"""Answer webhook throughput (against a bare view), reply latency, barge-in; the call steps are bench/capacity.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import (
    HANGOVER_MS,
    TOKEN,
    bench_agents,
    config,
    load,
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
