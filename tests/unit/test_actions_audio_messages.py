"""AudioMessages: stream_audio's frames, validated once instead of per chunk."""

from __future__ import annotations

import os
from typing import Any

import pytest

from actions import ActionValidationError, AudioMessages, encode, messages, stream_audio


@pytest.mark.parametrize("audio_type", ["raw", "wav", "mp3", "ogg"])
@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("size", [1, 2, 3, 320, 641, 1600, 3200, 32000])
def test_encode_equals_encode_of_stream_audio(audio_type: str, rate: int, size: int) -> None:
    pcm = os.urandom(size)
    assert AudioMessages(rate, audio_type).encode(pcm) == encode(stream_audio(pcm, audio_type, rate))


def test_default_type_is_raw_and_bytes_like_inputs_work() -> None:
    frames = AudioMessages(16000)
    pcm = bytes(range(256)) * 5
    expected = encode(stream_audio(pcm, "raw", 16000))
    assert frames.encode(pcm) == frames.encode(bytearray(pcm)) == frames.encode(memoryview(pcm)) == expected
    assert (frames.rate, frames.audio_type) == (16000, "raw")


@pytest.mark.parametrize(
    "rate, audio_type",
    [(32000, "raw"), (44100, "raw"), ("8000", "raw"), (8000.0, "raw"), (True, "raw"), (8000, "flac"), (8000, 1)],
)
def test_bad_rate_or_type_fails_at_construction_like_stream_audio(rate: Any, audio_type: Any) -> None:
    with pytest.raises(ActionValidationError) as ours:
        AudioMessages(rate, audio_type)
    with pytest.raises(ActionValidationError) as theirs:
        stream_audio(b"\x00\x00", audio_type, rate)
    assert ours.value.messages == theirs.value.messages


def test_empty_audio_fails_like_stream_audio() -> None:
    with pytest.raises(ActionValidationError) as theirs:
        stream_audio(b"", "raw", 8000)
    with pytest.raises(ActionValidationError) as ours:
        AudioMessages(8000).encode(b"")
    assert ours.value.messages == theirs.value.messages


@pytest.mark.parametrize("pcm", ["AAAA", None, 0, [0, 1]])
def test_only_bytes_are_audio(pcm: Any) -> None:
    with pytest.raises(ActionValidationError):
        AudioMessages(8000).encode(pcm)


def test_encode_does_not_run_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    frames = AudioMessages(8000)

    def no_schema(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("schema used per chunk")

    monkeypatch.setattr(messages, "load_with", no_schema)
    monkeypatch.setattr(messages.StreamAudioSchema, "load", no_schema)
    assert frames.encode(b"\x01\x02").startswith('{"type":"streamAudio"')
