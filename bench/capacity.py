"""Capacity as the caller hears it: steps of N concurrent calls of the capacity dialogue (bench/dialogue.py).

A step HOLDS only if every call completed, reply p95 (end of caller speech ->
first reply audio, measured at the caller) is at most REPLY_P95_MS, no reply is
missing, no frame was lost or dropped, and STT lag p95 is at most STT_P95_MS.
Each step also says how busy the rest of the machine was (its load average
before and after, and the CPU of every other process during the step). A step
where the load generator fell behind (more than VOID_LATE_PCT of its
frames sent over 40 ms late, or its CPU at VOID_CPU_PCT of a core) is VOID: it
says nothing about the service. While the calls stream, the answer webhook is
timed as Piopiy would feel it (one POST every WEBHOOK_EVERY_S).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import requests

from bench.dialogue import caller_script, duty_cycle
from bench.harness import (
    TOKEN,
    Sampler,
    Service,
    bench_agents,
    call_stats,
    load,
    recognizers_made,
    runtime,
    unanswered_turns,
    voice_service,
    wait_idle,
)
from emulator.service import ROOT

REPLY_P95_MS = 450
STT_P95_MS = 150
WEBHOOK_P99_MS = 50
VOID_LATE_PCT = 0.5
VOID_CPU_PCT = 90
WEBHOOK_EVERY_S = 0.1


class Box:
    """The whole machine's CPU use over a step: how much other work disturbed it."""

    def __init__(self) -> None:
        self.started, self.busy = time.monotonic(), self._busy()

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) + getattr(t, "steal", 0)

    def busy_pct(self) -> float:
        return round(100 * (self._busy() - self.busy) / (time.monotonic() - self.started), 1)


class WebhookProbe:
    """POSTs the answer webhook every WEBHOOK_EVERY_S in a thread; the latencies in ms."""

    def __init__(self, url: str) -> None:
        self.url = f"{url}/webhooks/piopiy/answer?token={TOKEN}"
        self.ms: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = requests.Session()
        n = 0
        while not self._stop.wait(WEBHOOK_EVERY_S):
            n += 1
            body = {"from": "919876543210", "to": "919111111111", "time": "now", "cmiuuid": f"probe-{time.time()}-{n}"}
            started = time.perf_counter()
            try:
                ok = session.post(self.url, json=body, timeout=5).status_code == 200
            except requests.RequestException:
                ok = False
            if ok:
                self.ms.append((time.perf_counter() - started) * 1000)
            else:
                self.errors += 1

    def __enter__(self) -> WebhookProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)


def bench_capacity(
    tmp: Path,
    mode: str,
    steps: list[int],
    seconds: float,
    every_step: bool = False,
    tree: Path = ROOT,
    workers: int = 1,
) -> dict[str, Any]:
    """Steps of ``n`` calls until one fails (a VOID step is run once more, then ends the run too); with
    ``every_step``, on through every step, for the cost figures (the capacity is still the last step held
    before the first that did not)."""
    agents = bench_agents(tmp)
    agent = "bench-phrase" if mode == "phrase" else "bench-free"
    rows: list[dict[str, Any]] = []
    with voice_service(tmp, agents, tree, workers) as svc:
        idle_rss = Sampler(svc).rss_now()
        # First, on the just-started service: the first step's calls all at once, with no warm-up load
        # before it (issue 26: a cold burst once left half its calls mute while warmed steps held).
        row = step(svc, agents, agent, tmp, steps[0], seconds, idle_rss, cold=True)
        rows.append(row)
        print(f"  {mode} {steps[0]:>4} calls, cold burst: {step_line(row)}", flush=True)
        for n in steps:
            row = step(svc, agents, agent, tmp, n, seconds, idle_rss)
            if row["verdict"] == "VOID":
                print(f"  {mode} {n:>4} calls: VOID (the load generator fell behind); once more", flush=True)
                rows.append(row)
                row = step(svc, agents, agent, tmp, n, seconds, idle_rss)
            rows.append(row)
            print(f"  {mode} {n:>4} calls: {step_line(row)}", flush=True)
            if row["verdict"] != "holds" and not every_step:
                break
    held = []
    for i, r in enumerate(r for r in rows if not r.get("cold")):
        if r["verdict"] == "holds":
            held.append(r["calls"])
        elif not (r["verdict"] == "VOID" and i + 1 < len(rows) and rows[i + 1]["calls"] == r["calls"]):
            break  # a step that failed, or stayed VOID when run again: nothing above it counts
    return {
        "mode": mode,
        "seconds": seconds,
        "dialogue": duty_cycle(),
        "limits": {"reply_p95_ms": REPLY_P95_MS, "stt_p95_ms": STT_P95_MS, "void_late_pct": VOID_LATE_PCT},
        "steps": [r for r in rows if not r.get("cold")],
        "cold_burst": next((r for r in rows if r.get("cold")), None),
        "max_calls": max(held, default=0),
        "cpu_pct_per_added_call": marginal_cpu(rows),
    }


def marginal_cpu(rows: list[dict[str, Any]]) -> float | None:
    """What each added call costs, in % of one core: the slope of service CPU over the non-VOID steps that held
    (or over all non-VOID steps when fewer than two held), so the fixed cost of the process is left out."""
    judged = [r for r in rows if r["verdict"] != "VOID"]
    points = [r for r in judged if r["verdict"] == "holds"]
    points = points if len(points) >= 2 else judged
    if len(points) < 2 or points[-1]["calls"] == points[0]["calls"]:
        return None
    first, last = points[0], points[-1]
    return round((last["cpu_pct_mean"] - first["cpu_pct_mean"]) / (last["calls"] - first["calls"]), 2)


def step(
    svc: Service,
    agents: Path,
    agent: str,
    tmp: Path,
    n: int,
    seconds: float,
    idle_rss: int,
    cold: bool = False,
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One step; warmed (the recogniser pool holds warm recognisers for n calls, see SpeechModels), or with
    ``cold`` the n calls start together with nothing before them. ``extra``: more emulator flags."""
    wait_idle(svc.url)
    if not cold:
        load(svc, agents, agent, caller_script(tmp), n, seconds=8, ramp=0.02, timeout=200, extra=extra)
        wait_idle(svc.url)
    runtime(svc.url, reset=True)
    unanswered_before = unanswered_turns(svc.url)
    made_before = recognizers_made(svc.url)
    load_avg = round(os.getloadavg()[0], 2)
    box = Box()
    with Sampler(svc) as sampler, WebhookProbe(svc.url) as probe:
        summary = load(
            svc, agents, agent, caller_script(tmp), n, seconds=seconds, ramp=0.0 if cold else 0.05,
            timeout=seconds * 3 + 120, extra=extra,
        )  # fmt: skip
    box_pct = box.busy_pct()
    lags = runtime(svc.url)
    wait_idle(svc.url)
    row = step_row(n, summary, call_stats(svc.url, summary["call_ids"]), lags, sampler, idle_rss, probe)
    row["cold"] = cold
    row["unanswered_turns"] = unanswered_turns(svc.url) - unanswered_before  # /metrics: must stay 0
    row["recognizers_made"] = recognizers_made(svc.url) - made_before  # during the step, not its warm-up
    row["load_avg_1m"] = load_avg
    row["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    row["box_cpu_pct"] = box_pct  # every process on the machine, in % of one core (100 x cores = all busy)
    row["others_cpu_pct"] = round(max(0.0, box_pct - row["cpu_pct_mean"] - (row["gen_cpu_pct"] or 0)), 1)
    row["verdict"], row["why"] = verdict(row)
    return row


def step_row(
    n: int,
    summary: dict[str, Any],
    counted: dict[str, int],
    lags: dict[str, Any],
    sampler: Sampler,
    idle_rss: int,
    probe: WebhookProbe,
) -> dict[str, Any]:
    """One step's figures: the caller's (emulator), the service's counters and runtime, its CPU and RSS."""
    cpu = sorted(sampler.cpu[2:-2] or sampler.cpu or [0])
    cpu_mean = sum(cpu) / len(cpu)
    reply, gen = summary["reply_latency_ms"], summary["generator"]
    rss = max(sampler.rss or [0])
    return {
        "calls": n,
        "completed": summary["calls"] - summary["failed"],
        "replies_due": summary["replies"]["due"],
        "replies_missing": summary["replies"]["missing"],
        "reply_p50_ms": reply["p50"],
        "reply_p95_ms": reply["p95"],
        "reply_p99_ms": reply["p99"],
        "stt_p50_ms": lags["stt_lag"].get("p50_ms"),
        "stt_p95_ms": lags["stt_lag"].get("p95_ms"),
        "frames_sent": summary["frames_sent"],
        "frames_lost": summary["frames_sent"] - counted["frames_in"],
        "frames_dropped": counted["dropped"],
        "gen_late_frames": gen["frames_late"],
        "gen_late_pct": gen["late_pct"],
        "gen_cpu_pct": gen["cpu_pct"],
        "cpu_pct_mean": round(cpu_mean, 1),
        "cpu_pct_max": round(cpu[-1], 1),
        "loop_cpu_pct": round(sum(loop := sorted(sampler.loop[2:-2] or sampler.loop or [0])) / len(loop), 1),
        "cpu_pct_per_call": round(cpu_mean / n, 2),
        "rss_mb": round(rss / 2**20, 1),
        "rss_per_call_mb": round((rss - idle_rss) / n / 2**20, 2),
        "loop_lag_p99_ms": lags["loop_lag"].get("p99_ms"),
        "webhook_n": len(probe.ms),
        "webhook_errors": probe.errors,
        "webhook_p50_ms": pct(probe.ms, 50),
        "webhook_p99_ms": pct(probe.ms, 99),
    }


def verdict(row: dict[str, Any]) -> tuple[str, list[str]]:
    """("holds" | "fails" | "VOID", the reasons)."""
    if row["gen_late_pct"] > VOID_LATE_PCT or (row["gen_cpu_pct"] or 0) >= VOID_CPU_PCT:
        return "VOID", [f"generator late {row['gen_late_pct']}% of frames, cpu {row['gen_cpu_pct']}%"]
    why = []
    if row["completed"] != row["calls"]:
        why.append(f"{row['calls'] - row['completed']} calls failed")
    if row["reply_p95_ms"] is None or row["reply_p95_ms"] > REPLY_P95_MS:
        why.append(f"reply p95 {row['reply_p95_ms']} ms")
    if row.get("unanswered_turns"):
        why.append(f"{row['unanswered_turns']} turns unanswered (/metrics)")
    if row["replies_missing"]:
        why.append(f"{row['replies_missing']} replies missing")
    if row["frames_lost"] or row["frames_dropped"]:
        why.append(f"frames lost {row['frames_lost']}, dropped {row['frames_dropped']}")
    if row["stt_p95_ms"] is None or row["stt_p95_ms"] > STT_P95_MS:
        why.append(f"STT lag p95 {row['stt_p95_ms']} ms")
    return ("fails" if why else "holds"), why


def step_line(row: dict[str, Any]) -> str:
    return (
        f"reply p50/p95 {row['reply_p50_ms']}/{row['reply_p95_ms']} ms, missing {row['replies_missing']} of "
        f"{row['replies_due']}, unanswered {row.get('unanswered_turns', 0)}, stt p95 {row['stt_p95_ms']} ms, "
        f"lost/dropped {row['frames_lost']}/"
        f"{row['frames_dropped']}, cpu {row['cpu_pct_mean']}% ({row['cpu_pct_per_call']}%/call), "
        f"recognisers made {row.get('recognizers_made', '?')}, rss {row['rss_mb']} MB, "
        f"webhook p99 {row['webhook_p99_ms']} ms, loop lag p99 {row['loop_lag_p99_ms']} ms, "
        f"generator late {row['gen_late_pct']}% cpu {row['gen_cpu_pct']}%, "
        f"load {row['load_avg_1m']}-{row['load_avg_1m_after']}, other processes {row['others_cpu_pct']}% "
        f"-> {row['verdict']}{': ' + '; '.join(row['why']) if row['why'] else ''}"
    )
