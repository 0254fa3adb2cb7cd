"""python -m bench [answer|calls|latency|bargein|all] [--quick]: measure the service.

Runs the real service as the Procfile does (gunicorn, one gevent worker, on
127.0.0.1), drives it with the emulator, prints one table and writes JSON
(with the machine's core count and the commit) to bench/results/.

  answer   requests/s of POST /webhooks/piopiy/answer vs a bare Flask view (same server, same run), via wrk
  calls    concurrent calls streaming speech in real time, phrase grammar and free speech:
           STT lag p50/p95/p99, frames dropped, CPU%, RSS, RSS per call, event-loop lag p99
  latency  reply latency (end of caller speech -> first reply byte) at 1, 10 and 50 calls
  bargein  caller speech during a reply -> break on the wire
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import requests
import yaml

from emulator.service import ROOT, Service, run_emulator, service_process

TOKEN = "bench-webhook-token"
API_KEY = "bench-api-key"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}
HANGOVER_MS = 300
GOALS = {
    "answer_ratio": 0.8,
    "phrase_calls": 100,
    "free_calls": 12,
    "latency_p50_1": 350,
    "latency_p95_50": 450,
    "work_p95_10": 50,
    "work_p95_50": 100,
    "bargein_p95": 150,
}


def config(tmp: Path, **extra: Any) -> dict[str, Any]:
    return {
        "CALLSTREAM_ENV": "production",
        "SECRET_KEY": "bench-secret",
        "WEBHOOK_TOKEN": TOKEN,
        "API_KEY": API_KEY,
        "PUBLIC_URL": "auto",
        "PIOPIY_APP_ID": "1",
        "PIOPIY_APP_SECRET": "x",
        "PIOPIY_NUMBER": "919000000000",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "INSTANCE_DIR": str(tmp / "instance"),
        "MAX_CALLS": 400,
        "LOG_LEVEL": "WARNING",
        "IDLE_TIMEOUT": 60,
        **extra,
    }


def bench_agents(tmp: Path) -> Path:
    """demo-ko without its DTMF menu, as a phrase-grammar agent and a free-speech agent."""
    folder = tmp / "agents"
    folder.mkdir(exist_ok=True)
    base = yaml.safe_load((ROOT / "agents" / "demo-ko.yaml").read_text())
    base.pop("dtmf_menu", None)
    for name, number, grammar in (("bench-phrase", "918000000101", True), ("bench-free", "918000000102", False)):
        agent = {**base, "name": name, "numbers": [number], "grammar": grammar}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(agent, allow_unicode=True))
    return folder


def script(tmp: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def load(
    svc: Service,
    agents: Path,
    agent: str,
    caller_script: Path,
    calls: int,
    *,
    seconds: float | None = None,
    ramp: float = 0.1,
    timeout: float = 300,
) -> dict[str, Any]:
    """`python -m emulator load` against ``svc``; its summary."""
    args = [
        "load",
        "--calls",
        str(calls),
        "--ramp",
        str(ramp),
        "--service",
        svc.url,
        "--token",
        TOKEN,
        "--agent",
        agent,
        "--agents-dir",
        str(agents),
        "--script",
        str(caller_script),
        "--no-cdr",
    ]
    if seconds:
        args += ["--seconds", str(seconds)]
    return run_emulator(*args, timeout=timeout)


@contextmanager
def voice_service(tmp: Path, agents: Path) -> Iterator[Service]:
    """The service with the bench agents, once its speech model has loaded."""
    with service_process(config(tmp, AGENTS_DIR=str(agents)), startup=60) as svc:
        while not requests.get(f"{svc.url}/healthz", timeout=5).json()["stt"].get("loaded"):
            time.sleep(0.5)
        yield svc


class Sampler:
    """CPU% and RSS of the gunicorn worker, once a second, in a thread."""

    def __init__(self, service: Service) -> None:
        master = psutil.Process(service.master_pid)
        self.worker = master.children()[0]
        self.cpu: list[float] = []
        self.rss: list[int] = []
        self._stop = threading.Event()
        self.worker.cpu_percent(None)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.cpu.append(self.worker.cpu_percent(None))
            self.rss.append(self.worker.memory_info().rss)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def rss_now(self) -> int:
        return self.worker.memory_info().rss


def runtime(url: str, reset: bool = False) -> dict[str, Any]:
    return requests.get(
        f"{url}/api/v1/runtime", params={"reset": "1"} if reset else {}, headers=HEADERS, timeout=10
    ).json()


def call_stats(url: str, call_ids: list[str]) -> dict[str, int]:
    frames = dropped = 0
    for call_id in call_ids:
        if not call_id:
            continue
        stats = requests.get(f"{url}/api/v1/calls/{call_id}", headers=HEADERS, timeout=10).json().get("stats") or {}
        frames += stats.get("frames_in", 0)
        dropped += sum(stats.get("dropped", {}).values())
    return {"frames_in": frames, "dropped": dropped}


def wait_idle(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while runtime(url)["sessions"] and time.monotonic() < deadline:
        time.sleep(0.5)


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
            counted = call_stats(svc.url, summary["call_ids"])
            lost = summary["frames_sent"] - counted["frames_in"]
            stt = lags["stt_lag"]
            cpu = sorted(sampler.cpu[2:-2] or sampler.cpu or [0])
            row = {
                "calls": n,
                "completed": summary["calls"] - summary["failed"],
                "stt_p50_ms": stt.get("p50_ms"),
                "stt_p95_ms": stt.get("p95_ms"),
                "stt_p99_ms": stt.get("p99_ms"),
                "frames_sent": summary["frames_sent"],
                "frames_lost": lost,
                "frames_dropped": counted["dropped"],
                "cpu_pct_mean": round(sum(cpu) / len(cpu), 1),
                "cpu_pct_max": round(cpu[-1], 1),
                "rss_mb": round(max(sampler.rss or [0]) / 2**20, 1),
                "rss_per_call_mb": round((max(sampler.rss or [0]) - idle_rss) / n / 2**20, 2),
                "loop_lag_p99_ms": lags["loop_lag"].get("p99_ms"),
                "emulator_send_lag_max_ms": summary["max_send_lag_ms"],
            }
            row["ok"] = (
                row["completed"] == n
                and (row["stt_p95_ms"] or 0) <= p95_limit
                and lost == 0
                and counted["dropped"] == 0
            )
            rows.append(row)
            print(
                f"  {mode} {n:>4} calls: stt p95 {row['stt_p95_ms']} ms, lost {lost}, dropped "
                f"{counted['dropped']}, cpu {row['cpu_pct_mean']}%, loop p99 {row['loop_lag_p99_ms']} ms "
                f"-> {'ok' if row['ok'] else 'over'}",
                flush=True,
            )
            if not row["ok"]:
                break
    best = max((r["calls"] for r in rows if r["ok"]), default=0)
    return {"mode": mode, "seconds": seconds, "p95_limit_ms": p95_limit, "warm": warm, "steps": rows, "max_calls": best}


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


# -- report -------------------------------------------------------------------------------------------
def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def table(results: dict[str, Any]) -> str:
    lines = [f"Callstream benchmarks  commit {results['commit']}  cores {results['cores']}  {results['when']}", ""]
    lines.append(f"{'figure':<52}{'measured':>14}{'goal':>12}")

    def row(name: str, value: Any, goal: str) -> None:
        lines.append(f"{name:<52}{'-' if value is None else str(value):>14}{goal:>12}")

    answer = results.get("answer")
    if answer and "ratio" in answer:
        row(f"answer webhook req/s ({answer['answer_rps']} vs bare {answer['bare_rps']})", answer["ratio"], ">= 0.8")
    for key, goal in (("phrase", ">= 100"), ("free", ">= 12")):
        calls = results.get(f"calls_{key}")
        if calls:
            row(
                f"concurrent calls, {key} (STT p95 <= {calls['p95_limit_ms']:.0f} ms, no loss)",
                calls["max_calls"],
                goal,
            )
    latency = results.get("latency") or {}
    goals = {"1": ("p50_ms", "<= 350"), "10": ("p95_minus_hangover_ms", "<= 50"), "50": ("p95_ms", "<= 450")}
    for n, values in latency.items():
        row(
            f"reply latency at {n} calls: p50 / p95 ms",
            f"{values['p50_ms']}/{values['p95_ms']}",
            goals.get(n, ("", ""))[1] if n != "10" else "",
        )
        row(
            f"  minus {HANGOVER_MS} ms hangover: p50 / p95 ms",
            f"{values['p50_minus_hangover_ms']}/{values['p95_minus_hangover_ms']}",
            {"10": "p95 <= 50", "50": "p95 <= 100"}.get(n, ""),
        )
    barge = results.get("bargein")
    if barge:
        row("barge-in: caller speech -> break on the wire, p95 ms", barge["p95_ms"], "<= 150")
    for key in ("calls_phrase", "calls_free"):
        calls = results.get(key)
        if calls:
            lines += ["", f"{key}: calls  stt p50/p95/p99 ms  lost dropped  cpu% mean/max  rss MB  MB/call  loop p99"]
            for s in calls["steps"]:
                lines.append(
                    f"  {s['calls']:>5}  {s['stt_p50_ms']}/{s['stt_p95_ms']}/{s['stt_p99_ms']}  "
                    f"{s['frames_lost']} {s['frames_dropped']}  {s['cpu_pct_mean']}/{s['cpu_pct_max']}  "
                    f"{s['rss_mb']}  {s['rss_per_call_mb']}  {s['loop_lag_p99_ms']}  "
                    f"{'ok' if s['ok'] else 'over'}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "what", nargs="*", help="all (default), answer, calls (= phrase + free), phrase, free, latency, bargein"
    )
    parser.add_argument("--quick", action="store_true", help="short runs and few steps (a smoke test, not figures)")
    parser.add_argument("--seconds", type=float, help="seconds each concurrent call streams (default 30)")
    parser.add_argument("--cold", action="store_true", help="no warm-up before each call step (fresh recognisers)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args(argv)
    what = set(args.what or ["all"])
    unknown = what - {"all", "answer", "calls", "phrase", "free", "latency", "bargein"}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if "all" in what:
        what = {"answer", "phrase", "free", "latency", "bargein"}
    if "calls" in what:
        what |= {"phrase", "free"}
    seconds = args.seconds or (8 if args.quick else 30)
    results: dict[str, Any] = {
        "commit": commit(),
        "cores": os.cpu_count(),
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "python": sys.version.split()[0],
        "quick": args.quick,
        "goals": GOALS,
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_name:
        tmp = Path(tmp_name)
        if "answer" in what:
            print("answer webhook …", flush=True)
            results["answer"] = bench_answer(tmp, args.quick)
        if "phrase" in what:
            print("concurrent calls, phrase grammar …", flush=True)
            steps = [5, 10] if args.quick else [10, 25, 50, 75, 100, 125, 150]
            results["calls_phrase"] = bench_calls(tmp, "phrase", steps, seconds, 150, not args.cold)
        if "free" in what:
            print("concurrent calls, free speech …", flush=True)
            steps = [2, 4] if args.quick else [4, 8, 12, 16, 20, 24, 32, 40, 48, 64]
            results["calls_free"] = bench_calls(tmp, "free", steps, seconds, 300, not args.cold)
        if "latency" in what:
            print("reply latency …", flush=True)
            results["latency"] = bench_latency(tmp, [1, 3] if args.quick else [1, 10, 50])
        if "bargein" in what:
            print("barge-in …", flush=True)
            results["bargein"] = bench_bargein(tmp, 4 if args.quick else 20)
    report = table(results)
    print("\n" + report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nJSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
