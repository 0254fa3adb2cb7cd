"""python -m bench overload --steps N: offered more calls than the machine holds, with admission on (#21.1).

``overload-free``: the same with free-speech calls (the bench-free agent; default 50 offered).

The capacity steps run with admission off, to find what the machine carries. This one runs the service
with the default ``ADMIT_*`` settings and no ``MAX_CALLS``, as a deploy would, and offers ``N`` phrase
calls (ramped in over ``--ramp``-like spacing, 0.05 s apart), each streaming for ``--seconds``. Every
call's emulator report says whether it was admitted (it opened the stream) or heard the busy PCMO. The
question (the issue's "done when"): do the admitted calls meet the goals (reply p95 <= 450 ms, no reply
missing, no frame lost or dropped, no turn unanswered), and did the rest hear the busy message?
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from bench.calibrate import LoadProbe
from bench.dialogue import caller_script
from bench.harness import (
    GOALS,
    HEADERS,
    Sampler,
    bench_agents,
    call_stats,
    load,
    runtime,
    unanswered_turns,
    voice_service,
    wait_idle,
)
from emulator.report import percentile, replies
from emulator.service import ROOT, Service


def _reports(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def _refusals(url: str) -> dict[str, float]:
    """``callstream_calls_refused_total{reason=…}`` and friends from /metrics: why calls were turned away."""
    text = requests.get(f"{url}/metrics", headers=HEADERS, timeout=10).text
    return {
        line.split(" ")[0]: float(line.split(" ")[-1])
        for line in text.splitlines()
        if "refus" in line and not line.startswith("#")
    }


def _admitted(report: dict[str, Any]) -> bool:
    return bool(report.get("frames_sent"))  # it opened the stream and spoke; a busy call only heard a PCMO


def _busy_message(report: dict[str, Any]) -> bool:
    """The answer webhook's PCMO was the busy one: a spoken message, then a hang-up, no stream."""
    answer = [p["pcmo"] for p in report.get("pcmo") or [] if p.get("via") == "answer"]
    actions = [a.get("action") for a in (answer[0] if answer else []) if isinstance(a, dict)]
    return "stream" not in actions and "hangup" in actions and ("speak" in actions or "play" in actions)


def _judge(admitted: list[dict[str, Any]], lost: dict[str, int], unanswered: int) -> list[str]:
    latencies = [ms for r in admitted for ms in r["reply_latency_ms"]]
    due = replies(admitted)
    p95 = percentile(latencies, 95)
    bad = []
    if p95 is None or p95 > GOALS["latency_p95_50"]:
        bad.append(f"reply p95 {p95} ms")
    if due["missing"]:
        bad.append(f"{due['missing']} of {due['due']} replies missing")
    if lost["dropped"]:
        bad.append(f"{lost['dropped']} frames dropped")
    if unanswered:
        bad.append(f"{unanswered} turns unanswered")
    return bad


def run_overload(
    svc: Service, agents: Path, tmp: Path, calls: int, seconds: float, agent: str = "bench-phrase"
) -> dict[str, Any]:
    out = tmp / f"overload-{agent}-{calls}"
    wait_idle(svc.url)
    runtime(svc.url, reset=True)
    before = unanswered_turns(svc.url)
    with Sampler(svc) as sampler, LoadProbe(svc.url).running() as health:
        summary = load(
            svc, agents, agent, caller_script(tmp), calls, seconds=seconds, ramp=0.05,
            timeout=seconds * 3 + 180, extra=("--out", str(out)),
        )  # fmt: skip
    reports = _reports(out)
    admitted = [r for r in reports if _admitted(r)]
    busy = [r for r in reports if not _admitted(r)]
    heard_busy = sum(1 for r in busy if _busy_message(r))
    lost = call_stats(svc.url, [r["call_id"] for r in admitted])
    unanswered = unanswered_turns(svc.url) - before
    latencies = [ms for r in admitted for ms in r["reply_latency_ms"]]
    cpu = sorted(sampler.cpu[2:-2] or sampler.cpu or [0])
    bad = _judge(admitted, lost, unanswered)
    return {
        "agent": agent,
        "offered": calls,
        "reports": len(reports),
        "admitted": len(admitted),
        "busy": len(busy),
        "busy_heard_message": heard_busy,
        "reply_p50_ms": percentile(latencies, 50),
        "reply_p95_ms": percentile(latencies, 95),
        "replies": replies(admitted),
        "frames_dropped": lost["dropped"],
        "unanswered_turns": unanswered,
        "service_cpu_pct_mean": round(sum(cpu) / len(cpu), 1),
        "generator": summary["generator"],
        "refusals": _refusals(svc.url),
        "load_samples": health.samples,  # /healthz "load" once a second: how admission saw it
        "verdict": "holds" if not bad else "fails: " + "; ".join(bad),
    }


def bench_overload(
    tmp: Path, steps: list[int], seconds: float, tree: Path = ROOT, workers: int = 1, agent: str = "bench-phrase"
) -> list[dict[str, Any]]:
    """Each step on the same service (admission at its defaults), one after another; ``workers`` > 1 as
    ``make run`` starts them (bench/harness.py ``voice_service``); ``agent`` bench-free: free-speech calls."""
    agents = bench_agents(tmp)
    rows = []
    with voice_service(tmp, agents, tree, workers, admission=True) as svc:
        for calls in steps:
            row = run_overload(svc, agents, tmp, calls, seconds, agent)
            rows.append(row)
            print(
                f"  offered {calls}: admitted {row['admitted']}, busy {row['busy']} "
                f"(heard the message: {row['busy_heard_message']}); admitted calls reply p50/p95 "
                f"{row['reply_p50_ms']}/{row['reply_p95_ms']} ms, missing {row['replies']['missing']} of "
                f"{row['replies']['due']}, dropped {row['frames_dropped']}, unanswered {row['unanswered_turns']}; "
                f"service CPU {row['service_cpu_pct_mean']}%, generator late {row['generator'].get('late_pct')}% "
                f"-> {row['verdict']}",
                flush=True,
            )
    return rows
