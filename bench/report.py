"""The benchmark table printed at the end of a run (the JSON goes to bench/results/)."""

from __future__ import annotations

import subprocess
from typing import Any

from emulator.service import ROOT

from .harness import HANGOVER_MS
from .turns import turn_table


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
    if results.get("turns"):
        lines += turn_table(results["turns"])
    return "\n".join(lines)
