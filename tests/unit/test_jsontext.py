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


def test_the_stream_socket_settings_have_sane_defaults_and_refuse_nonsense() -> None:
    from app.config import ConfigError, load_config

    config = load_config({})
    assert (config["STREAM_RECONNECT_GRACE"], config["STREAM_AUDIO_BURST"], config["STREAM_AUDIO_FLOOD"]) == (3, 2, 30)
    assert config["STREAM_BOTH_AUDIO"] == "mixed"
    assert load_config({"STREAM_RECONNECT_GRACE": "0"})["STREAM_RECONNECT_GRACE"] == 0  # 0: no grace
    for name, value in (("STREAM_BOTH_AUDIO", "quad"), ("STREAM_AUDIO_BURST", "0"), ("STREAM_RECONNECT_GRACE", "-1")):
        with pytest.raises(ConfigError, match=name):
            load_config({name: value})
