"""Bad actions raise one error type whose messages name the field."""

from __future__ import annotations

from typing import Any

import pytest

from actions import PCMO, ActionValidationError, encode, messages, stream_audio, validate_action, validate_pcmo

WS = "wss://bot.example.test/stream/x"


def errors_of(fn, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ActionValidationError) as caught:
        fn(*args, **kwargs)
    return caught.value.messages  # type: ignore[return-value]


@pytest.mark.parametrize("url", ["https://x/y", "http://x", "x", "", "ws://", 42])
def test_ws_url_must_be_ws_or_wss(url: Any) -> None:
    assert "ws_url" in errors_of(PCMO().stream, url)


def test_listen_mode_and_voice_quality_are_checked() -> None:
    errs = errors_of(PCMO().stream, WS, {"listen_mode": "all", "voice_quality": 11025})
    assert set(errs) == {"listen_mode", "voice_quality"}


@pytest.mark.parametrize("quality", [8000, 12000, 16000, 32000, "8000", "32000"])
def test_every_documented_voice_quality_is_accepted(quality: Any) -> None:
    assert PCMO().stream(WS, {"voice_quality": quality}).PCMO()[0]["voice_quality"] == quality


@pytest.mark.parametrize("number", ["98-76", "abc", "", "0123456789", 12, 3.5, None, True, "12345678901234567"])
def test_phone_numbers_must_be_numbers(number: Any) -> None:
    assert "from" in errors_of(PCMO().call, 919876543210, number)
    assert "connect" in errors_of(PCMO().call, number, 919000000000)


def test_empty_connect_list() -> None:
    assert errors_of(PCMO().call, [], 919000000000) == {"connect": ["Give at least one number to connect."]}


def test_unknown_fields_are_rejected_in_actions_and_options() -> None:
    assert "colour" in errors_of(validate_action, {"action": "hangup", "colour": "red"})
    assert "max_digits" in errors_of(PCMO().input, "https://x.test/i", {"max_digits": 2})


def test_unknown_action_and_non_objects() -> None:
    assert "action" in errors_of(validate_action, {"action": "dance"})
    assert "_schema" in errors_of(validate_action, ["hangup"])
    assert "_schema" in errors_of(validate_pcmo, {"action": "hangup"})
    assert "_schema" in errors_of(validate_pcmo, [])


def test_pcmo_errors_are_keyed_by_index() -> None:
    errs = errors_of(validate_pcmo, [{"action": "hangup"}, {"action": "stream", "ws_url": "http://x"}, {"action": "x"}])
    assert set(errs) == {"1", "2"} and "ws_url" in errs["1"]


def test_play_needs_exactly_one_source() -> None:
    assert "_schema" in errors_of(
        validate_action, {"action": "play", "file_name": "a.wav", "file_url": "https://x/a.wav"}
    )
    assert "_schema" in errors_of(validate_action, {"action": "play"})
    assert "file_url" in errors_of(validate_action, {"action": "play", "file_url": "hold.wav"})


def test_input_urls_must_be_http() -> None:
    assert "action_url" in errors_of(PCMO().input, "/relative/path")
    assert "action_url" in errors_of(PCMO().playGetInput, "mailto:x@y", "m.wav")


@pytest.mark.parametrize("audio", ["***", "abc", "YW JjZA=="])
def test_stream_audio_rejects_invalid_base64(audio: str) -> None:
    assert "audioData" in errors_of(stream_audio, audio)["data"]


@pytest.mark.parametrize(
    "audio_type, rate, field",
    [("aac", 8000, "audioDataType"), ("raw", 22050, "sampleRate"), ("raw", "8000", "sampleRate")],
)
def test_stream_audio_rejects_unknown_type_or_rate(audio_type: str, rate: Any, field: str) -> None:
    assert field in errors_of(stream_audio, b"\x00\x00", audio_type, rate)["data"]


def test_outgoing_socket_messages_validate() -> None:
    assert messages.validate_message({"action": "break"}) == {"action": "break"}
    assert messages.validate_message([{"action": "hangup"}]) == [{"action": "hangup"}]
    assert "_schema" in errors_of(messages.validate_message, {"action": "dance"})
    assert "extra" in errors_of(messages.validate_message, {"action": "pause", "extra": 1})
    assert encode({"action": "pause"}) == '{"action":"pause"}'


def test_the_builder_keeps_nothing_from_a_failed_call() -> None:
    pcmo = PCMO().speak("hi")
    with pytest.raises(ActionValidationError):
        pcmo.stream("http://bad")
    assert pcmo.PCMO() == [{"action": "speak", "text": "hi"}]
