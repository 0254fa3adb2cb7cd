"""One JSON reading rule for every way text enters the service (#25.6): webhooks, API bodies, stream frames."""

from __future__ import annotations

import pytest

from app.http import bodies
from streams import jsontext
from streams.link import protocol

REFUSED = ['{"a": "\\ud800"}', '{"\\udc00": 1}', '{"a": NaN}', '{"a": Infinity}', '{"a": -1e999}', "[" * 70 + "]" * 70]


def test_the_webhooks_and_the_stream_socket_read_json_by_the_same_rule() -> None:
    assert bodies.loads is jsontext.loads and bodies.MAX_DEPTH == jsontext.MAX_DEPTH


@pytest.mark.parametrize("text", REFUSED)
def test_what_the_rule_refuses_is_dropped_on_the_stream_socket(text: str) -> None:
    assert jsontext.loads(text) is jsontext.MISSING
    assert protocol.parse(text, 32000) == protocol.Rejected("malformed_text", len(text))
    assert protocol.metadata(text, 32000) == protocol.Rejected("malformed_text", len(text))  # meant as JSON


def test_metadata_is_any_utf8_text_or_json() -> None:
    assert protocol.metadata('{"uuid": "u1"}', 32000) == protocol.Metadata({"uuid": "u1"})
    assert protocol.metadata("leg a, IVR 3", 32000) == protocol.Metadata({"text": "leg a, IVR 3"})
    assert protocol.metadata("42", 32000) == protocol.Metadata({"value": 42})
    assert protocol.metadata("x" * 40, 20) == protocol.Rejected("oversized_text", 40)
