"""The benchmark table printed at the end of a run (the JSON goes to bench/results/)."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

from bench.harness import HANGOVER_MS
from bench.turns import turn_table
from emulator.service import ROOT


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), to print beside every figure: the same bench held 125 calls on one
    2-core machine and 75 on another."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def table(results: dict[str, Any]) -> str:
    lines = [
        f"Callstream benchmarks  commit {results['commit']}  {results.get('cpu_model', '?')}, "
        f"cores {results['cores']}  {results['when']}"
    ]
    lines += [results.get("conditions", ""), ""]
    lines.append(f"{'figure':<52}{'measured':>14}{'goal':>12}")

    def row(name: str, value: Any, goal: str) -> None:
        lines.append(f"{name:<52}{'-' if value is None else str(value):>14}{goal:>12}")

    answer = results.get("answer")
    if answer and "ratio" in answer:
        row(
            f"answer webhook req/s ({answer['answer_rps']} vs bare {answer['bare_rps']}), ratio",
            answer["ratio"],
            "(info)",
        )
    for key, goal in (("phrase", ">= 100"), ("free", ">= 12")):
        calls = results.get(f"calls_{key}")
        if calls:
            row(f"concurrent calls, {key} (as the caller hears it)", calls["max_calls"], goal)
            for name, value, wanted in _at_most(calls, key):
                row(name, value, wanted)
    deflate = results.get("deflate")
    if deflate:
        cpu = deflate["cpu_pct_mean"]
        row(
            f"{deflate['calls']} calls: service CPU % deflate offered / plain",
            f"{cpu['deflate offered']}/{cpu['plain']}",
            "",
        )
        row("  ratio (deflate offered / plain)", deflate["ratio"], "~1.0")
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
        if results.get(key):
            lines += ["", *_steps(key, results[key])]
    if results.get("turns"):
        lines += turn_table(results["turns"])
    return "\n".join(lines)


def _at_most(calls: dict[str, Any], key: str) -> list[tuple[str, Any, str]]:
    """Cost per call and the webhook under load, at the largest step that held (else the first step)."""
    steps = calls["steps"]
    held = [s for s in steps if s["verdict"] == "holds"]
    s = held[-1] if held else steps[0]
    at = f"at {s['calls']} calls"
    return [
        (f"  service CPU per call, {at} (% of one core)", s["cpu_pct_per_call"], "<= 1.0" if key == "phrase" else ""),
        ("  service CPU per added call (slope over the steps)", calls.get("cpu_pct_per_added_call"), ""),
        (f"  RSS per call, {at} (MB)", s["rss_per_call_mb"], ""),
        (f"  answer webhook p99 while they stream, {at} (ms)", s["webhook_p99_ms"], "<= 50"),
    ]


def _steps(key: str, calls: dict[str, Any]) -> list[str]:
    d = calls["dialogue"]
    lines = [
        f"{key}: caller says {'/'.join(d['phrases'])} every {d['period_s']} s (duty cycle {d['duty_pct']}%), "
        f"{calls['seconds']:.0f} s per step; holds: reply p95 <= {calls['limits']['reply_p95_ms']} ms, none missing, "
        f"no frame lost/dropped, STT p95 <= {calls['limits']['stt_p95_ms']} ms; VOID: generator > "
        f"{calls['limits']['void_late_pct']}% frames late",
        "  calls  load  others%  reply p50/p95/p99 ms  missing/due  stt p95  lost/drop  cpu% (per call) loop%  "
        "MB/call  webhook p50/p99  loop p99  gen late%/cpu%  verdict",
        "  (Nc: a cold burst, N calls at once on the just-started service, before the warmed steps)",
    ]
    cold = [calls["cold_burst"]] if calls.get("cold_burst") else []
    for s in [*cold, *calls["steps"]]:
        lines.append(
            f"  {str(s['calls']) + ('c' if s.get('cold') else ''):>5}  {s['load_avg_1m']:>4}"
            f"  {s.get('others_cpu_pct', '-'):>6}"
            f"  {s['reply_p50_ms']}/{s['reply_p95_ms']}/{s['reply_p99_ms']}"
            f"  {s['replies_missing']}/{s['replies_due']}  {s['stt_p95_ms']}  {s['frames_lost']}/{s['frames_dropped']}"
            f"  {s['cpu_pct_mean']} ({s['cpu_pct_per_call']}) {s.get('loop_cpu_pct', '-')}  {s['rss_per_call_mb']}"
            f"  {s['webhook_p50_ms']}/{s['webhook_p99_ms']}  {s['loop_lag_p99_ms']}"
            f"  {s['gen_late_pct']}/{s['gen_cpu_pct']}"
            f"  {s['verdict']}{' (' + '; '.join(s['why']) + ')' if s['why'] else ''}"
        )
    return lines
