"""Prometheus metrics at /metrics (API key required): calls, frames, drops, reply latency.

Frame counters are read from the sessions when scraped (plus the totals of
ended sessions), so the hot path pays nothing for them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .auth import require_api_key

bp = Blueprint("metrics", __name__)
LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "callstream_reply_latency_seconds",
            "End of the caller's speech to the first reply audio on the socket.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ended: Counter[str] = Counter()
        self.sessions: Any = None
        self.registry.register(_SessionCollector(self))

    def observe_latency(self, seconds: float) -> None:
        self.latency.observe(seconds)

    def session_ended(self, session: Any) -> None:
        self.ended["calls"] += 1
        self.ended.update({k: v for k, v in session.counters.items() if isinstance(v, int)})


class _SessionCollector:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        sessions = self.metrics.sessions
        live = list(sessions.all()) if sessions is not None else []
        totals = Counter(self.metrics.ended)
        for session in live:
            totals.update({k: v for k, v in session.counters.items() if isinstance(v, int)})
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
        dropped = CounterMetricFamily("callstream_dropped", "Inbound messages dropped, by reason.", labels=["reason"])
        for key, value in sorted(totals.items()):
            if key.startswith("dropped_"):
                dropped.add_metric([key[8:]], value)
        yield dropped


@bp.get("/metrics")
@require_api_key
def metrics():  # type: ignore[no-untyped-def]
    registry = current_app.extensions["callstream"]["metrics"].registry
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")
