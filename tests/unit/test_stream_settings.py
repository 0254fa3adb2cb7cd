"""The stream socket's settings (#20.5 reconnect grace and listen_mode both audio, #25.3 burst and flood)."""

from __future__ import annotations

import pytest


def test_the_stream_socket_settings_have_sane_defaults_and_refuse_nonsense() -> None:
    from app.config import ConfigError, load_config

    config = load_config({})
    assert (config["STREAM_RECONNECT_GRACE"], config["STREAM_AUDIO_BURST"], config["STREAM_AUDIO_FLOOD"]) == (3, 2, 30)
    assert config["STREAM_BOTH_AUDIO"] == "mixed"
    assert load_config({"STREAM_RECONNECT_GRACE": "0"})["STREAM_RECONNECT_GRACE"] == 0  # 0: no grace
    for name, value in (("STREAM_BOTH_AUDIO", "quad"), ("STREAM_AUDIO_BURST", "0"), ("STREAM_RECONNECT_GRACE", "-1")):
        with pytest.raises(ConfigError, match=name):
            load_config({name: value})
