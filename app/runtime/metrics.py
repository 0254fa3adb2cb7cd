"""Prometheus metrics at /metrics (API key required): calls, frames, drops, reply latency.

Reply latency and ended calls come from the event bus (``observe``); frame
counters are read from the live calls when scraped (plus the totals of ended
calls), so the hot path pays nothing for them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from app.http.auth import require_api_key
from streams.events import CallEnded, CallEvent, Note, ReplyTimed
from streams.shedding import ORDER, SHEDDING

if TYPE_CHECKING:
    from app.runtime.load import Load
    from app.storage.writes import Writes
    from streams.session.registry import CallRegistry

bp = Blueprint("metrics", __name__)
LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)


class Metrics:
    def __init__(self, calls: CallRegistry, writes: Writes | None = None, load: Load | None = None) -> None:
        self.registry = CollectorRegistry()
        self.writes = writes
        self.load = load
        self.latency = Histogram(
            "callstream_reply_latency_seconds",
            "End of the caller's speech to the first reply audio on the socket.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ended: Counter[str] = Counter()
        self.calls = calls
        self.registry.register(_SessionCollector(self))

    def observe(self, event: CallEvent) -> None:
        """A subscriber of this node's call events."""
        if isinstance(event, ReplyTimed):
            self.latency.observe(event.latency_ms / 1000)
        elif isinstance(event, Note) and event.what == "turn.unanswered":
            self.ended["unanswered_turns"] += 1
        elif isinstance(event, CallEnded):
            stats = event.stats
            self.ended["calls"] += 1
            self.ended["frames_in"] += int(stats.get("frames_in", 0))
            self.ended["audio_out"] += int(stats.get("audio_messages_out", 0))
            self.ended["writer_failed"] += int(stats.get("writer_failed", 0))
            self.ended.update({f"dropped_{k}": int(v) for k, v in (stats.get("dropped") or {}).items()})


class _SessionCollector:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        live = self.metrics.calls.all()
        totals = Counter(self.metrics.ended)
        for call in live:
            totals.update(call.link.counters)
        active = GaugeMetricFamily("callstream_active_calls", "Live stream sessions in this process.")
        active.add_metric([], len(live))
        yield active
        ended = CounterMetricFamily("callstream_calls_ended", "Sessions ended since start.")
        ended.add_metric([], self.metrics.ended["calls"])
        yield ended
        frames_in = CounterMetricFamily("callstream_frames_in", "Caller audio frames received.")
        frames_in.add_metric([], totals["frames_in"])
        yield frames_in
        frames_out = CounterMetricFamily("callstream_frames_out", "streamAudio messages sent.")
        frames_out.add_metric([], totals["audio_out"])
        yield frames_out
        unanswered = CounterMetricFamily(
            "callstream_unanswered_turns",
            "Caller turns whose decided reply never started playing (the call was ended as reply_failed).",
        )
        unanswered.add_metric([], self.metrics.ended["unanswered_turns"])
        yield unanswered
        writer = CounterMetricFamily("callstream_writer_failures", "Calls whose stream writer failed (ended).")
        writer.add_metric([], totals["writer_failed"])
        yield writer
        dropped = CounterMetricFamily("callstream_dropped", "Inbound messages dropped, by reason.", labels=["reason"])
        for key, value in sorted(totals.items()):
            if key.startswith("dropped_"):
                dropped.add_metric([key[8:]], value)
        yield dropped
        yield from _load_metrics(self.metrics.load)
        writes = self.metrics.writes
        if writes is not None:
            pending = GaugeMetricFamily("callstream_db_pending_writes", "Call events waiting for the database.")
            pending.add_metric([], writes.pending)
            yield pending
            lost = CounterMetricFamily("callstream_db_dropped_writes", "Call events dropped: the backlog was full.")
            lost.add_metric([], writes.dropped)
            yield lost


def _load_metrics(load: Load | None) -> Iterator[Metric]:
    """The measured load admission follows, and the calls turned away by reason (app/runtime/load.py)."""
    if load is None:
        return
    figures = load.figures
    for name, value, what in (
        ("callstream_load", figures.load, "This node's load, 0..1 (the largest of its signals over the window)."),
        ("callstream_loop_lag_seconds", figures.loop_lag, "Event-loop lag, averaged over the window."),
        ("callstream_stt_wait_seconds", figures.stt_wait, "Caller audio's wait for its STT result, averaged."),
        ("callstream_cpu_share", figures.cpu, "The process's CPU over the cores it may use, averaged."),
        ("callstream_loop_cpu_share", figures.loop_cpu, "The event loop thread's CPU over one core, averaged."),
        ("callstream_taking_calls", 0.0 if load.refusing else 1.0, "1 while the load lets this node take calls."),
    ):
        gauge = GaugeMetricFamily(name, what)
        gauge.add_metric([], value)
        yield gauge
    shed = CounterMetricFamily("callstream_shed", "Copies given up while the loop was late (streams/shedding.py).",
                               labels=["what"])  # fmt: skip
    for what in ORDER:
        shed.add_metric([what], SHEDDING.counts[what])
    yield shed
    refused = CounterMetricFamily("callstream_calls_refused", "Calls answered busy, by reason.", labels=["reason"])
    for reason, count in sorted(load.refused.items()):
        refused.add_metric([reason], count)
    yield refused


@bp.get("/metrics")
@require_api_key
def metrics():  # type: ignore[no-untyped-def]
    registry = current_app.extensions["callstream"].metrics.registry
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")
