"""The JSON report of one call, and the summary of a load run.

Every key of the report is documented in docs/emulator.md; tests and
benchmarks read ``call_id``, ``errors``, ``turns``, ``reply_latency_ms``,
``transfers``, ``controls``, ``barge_ins``, ``pcmo``, ``close`` and the counters.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.checks import check
from emulator.service_record import fetch_call
from streams.audio import wav_bytes

if TYPE_CHECKING:
    from emulator.emulated_call import EmulatedCall


def build_report(call: EmulatedCall, duration: float) -> dict[str, Any]:
    """What happened on ``call``, as the platform saw it; with the service's record when an API key was given."""
    heard_wav = None
    out_dir = call.options.out_dir
    if call.heard is not None and out_dir is not None:
        path = out_dir / f"{call.platform_id}.heard.wav"
        out_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wav_bytes(call.heard.render(0.0), call.heard.rate))
        heard_wav = str(path)
    latencies = [t["latency_ms"] for t in call.turns if t.get("latency_ms") is not None]
    report: dict[str, Any] = {
        "platform_call_id": call.platform_id,
        "call_id": call.service_call_id,
        "direction": call.direction,
        "from": call.script.from_number,
        "to": call.script.to_number,
        "agent": call.script.agent,
        "duration": duration,
        **call.counters,
        "heard_seconds": round(call.heard.seconds(), 3) if call.heard else 0.0,
        "heard_wav": heard_wav,
        "transfers": call.transfers,
        "controls": call.controls,
        "pcmo": call.pcmo_received,
        "turns": call.turns,
        "reply_latency_ms": latencies,
        "barge_ins": call.barge_ins,
        "close": call.close,
        "end": call.end,
        "timeline": call.timeline,
        "errors": call.errors,
    }
    report["service"] = None
    if call.options.api_key and call.service_call_id:
        report["service"] = fetch_call(call.options.service_url, call.options.api_key, call.service_call_id)
    report["checks"] = check(report, call.script.expect)
    return report


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{report['platform_call_id']}.json"
    path.write_text(json.dumps(report, indent=2))
    return path


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


REPLY_GRACE_S = 2.0  # an utterance this close to the call's end is not counted as missing its reply


def replies(reports: list[dict[str, Any]]) -> dict[str, int]:
    """Utterances that should have had a reply (they ended ``REPLY_GRACE_S`` before their call did), and
    how many of those had none."""
    due = [t for r in reports for t in r["turns"] if t["ended_at"] <= r["duration"] - REPLY_GRACE_S]
    return {"due": len(due), "missing": sum(1 for t in due if t.get("reply_at") is None)}


def generator(reports: list[dict[str, Any]], elapsed: float, cpu_s: float | None) -> dict[str, Any]:
    """How well the load generator (this process) kept its own 20 ms clock, and its CPU."""
    sent = sum(r["frames_sent"] for r in reports)
    late = sum(r.get("frames_late", 0) for r in reports)
    return {
        "frames_late": late,
        "late_pct": round(100 * late / sent, 3) if sent else 0.0,
        "cpu_pct": round(100 * cpu_s / elapsed, 1) if cpu_s is not None and elapsed > 0 else None,
        "max_send_lag_ms": max((r["max_send_lag_ms"] for r in reports), default=0),
    }


def summarise(reports: list[dict[str, Any]], elapsed: float, cpu_s: float | None = None) -> dict[str, Any]:
    """The JSON summary `python -m emulator load` prints (bench/ reads it); ``cpu_s``: this process's CPU."""
    latencies = [ms for r in reports for ms in r["reply_latency_ms"]]
    barge = [b["latency_ms"] for r in reports for b in r["barge_ins"] if b.get("latency_ms") is not None]
    return {
        "calls": len(reports),
        "failed": sum(1 for r in reports if r["errors"]),
        "checks_failed": sum(1 for r in reports if not r["checks"]["ok"]),
        "elapsed_s": round(elapsed, 2),
        "frames_sent": sum(r["frames_sent"] for r in reports),
        "audio_messages_received": sum(r["audio_messages"] for r in reports),
        "max_send_lag_ms": max((r["max_send_lag_ms"] for r in reports), default=0),
        "reply_latency_ms": {
            "n": len(latencies),
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99),
            "max": max(latencies, default=None),
            "mean": round(statistics.mean(latencies), 1) if latencies else None,
        },
        "replies": replies(reports),
        "generator": generator(reports, elapsed, cpu_s),
        "barge_in_ms": {"n": len(barge), "p50": percentile(barge, 50), "p95": percentile(barge, 95)},
        "close_codes": sorted({(r["close"] or {}).get("code") or 0 for r in reports}),
        "errors": [e for r in reports for e in r["errors"]][:20],
        "call_ids": [r["call_id"] for r in reports],
    }
