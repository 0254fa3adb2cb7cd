"""Issue #20: any event body, documented fields with any values, is classified and read without raising."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.webhooks.events import cdr_fields, extra_params
from app.webhooks.shapes import Reading, read, ws_status

FAST = settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
BIG = st.integers(min_value=10**300, max_value=10**400)  # JSON integers too large for a float
SCALARS = st.none() | st.booleans() | st.integers() | BIG | st.floats() | st.text(max_size=30)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
STATUSES = st.sampled_from(["answered", "missed", "hangup", "in_answered", "OUT_HANGUP", "stream_connected",
                            "STREAM_DISCONNECTED", "out_bridged", "started", "ringing", ""])  # fmt: skip
FIELDS = st.sampled_from(["type", "status", "leg", "direction", "cmiuuid", "request_id", "conversation_uuid",
                          "time", "start_time", "end_time", "answer_time", "duration", "call_rate", "balance",
                          "rate", "extra_params", "ws_status", "answered_time"])  # fmt: skip
EVENTS = st.dictionaries(FIELDS, JSON | STATUSES, max_size=10)
WS = st.builds(json.dumps, st.fixed_dictionaries({"status": JSON, "message": JSON}))


@FAST
@given(event=EVENTS, ws=WS | JSON)
def test_any_event_is_read_and_its_cdr_fields_are_sane(event: dict[str, Any], ws: Any) -> None:
    event = {**event, "ws_status": ws}
    reading = read(event)
    assert isinstance(reading, Reading) and reading.category in ("cdr", "live", "stream", "bridge", "unknown")
    assert isinstance(reading.kind, str) and reading.kind
    assert isinstance(ws_status(event), dict) and isinstance(extra_params(event), dict)
    for name, value in cdr_fields(event, "answered").items():
        if name in ("answered_at", "talk_seconds", "billed_seconds") and value is not None:
            assert isinstance(value, float) and math.isfinite(value) and value >= 0, (name, value)
        if name in ("call_rate", "balance") and value is not None:
            assert isinstance(value, str) and len(value) <= 32
