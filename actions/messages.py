"""Messages we send on the stream WebSocket (PROTOCOL.md section 2).

Control messages and ``streamAudio`` are plain dicts; ``encode`` turns any of
them (or a PCMO list) into the text frame that goes on the wire.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from marshmallow import ValidationError, fields, validate

from actions.errors import ActionValidationError
from actions.fields import StrictInt, StrictStr
from actions.schemas import StrictSchema, load_with, validate_pcmo

AUDIO_TYPES = ("raw", "wav", "mp3", "ogg")
# streamAudio's sampleRate: 8000 or 16000 (PROTOCOL.md section 2, and the SDK's
# playStream). The stream action's voice_quality also allows 32000 (and 12000),
# but no streamAudio rate matches those: replies to such a call need resampling.
AUDIO_RATES = (8000, 16000)
CONTROL_ACTIONS = ("pause", "resume", "stop", "break")


def pause() -> dict[str, str]:
    """Pause the platform's stream of caller audio."""
    return {"action": "pause"}


def resume() -> dict[str, str]:
    return {"action": "resume"}


def stop() -> dict[str, str]:
    """Stop the stream for good (the call itself goes on)."""
    return {"action": "stop"}


def interrupt() -> dict[str, str]:
    """Barge-in: the platform drops what it is playing."""
    return {"action": "break"}


class Base64Str(StrictStr):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("Must be valid base64.") from None
        return value


class StreamAudioDataSchema(StrictSchema):
    audioDataType = fields.String(required=True, validate=validate.OneOf(AUDIO_TYPES))  # noqa: N815 - wire name
    sampleRate = StrictInt(required=True, validate=validate.OneOf(AUDIO_RATES))  # noqa: N815 - wire name
    audioData = Base64Str(required=True, non_empty=True)  # noqa: N815 - wire name


class StreamAudioSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.Equal("streamAudio"))
    data = fields.Nested(StreamAudioDataSchema, required=True)


class ControlSchema(StrictSchema):
    action = fields.String(required=True, validate=validate.OneOf(CONTROL_ACTIONS))


def stream_audio(audio: bytes | str, audio_type: str = "raw", sample_rate: int = 8000) -> dict[str, Any]:
    """Play audio to the caller. ``audio`` is bytes, or a base64 string sent as is."""
    if isinstance(audio, (bytes, bytearray, memoryview)):
        encoded = base64.b64encode(bytes(audio)).decode("ascii")
    else:
        encoded = audio
    data = {"audioDataType": audio_type, "sampleRate": sample_rate, "audioData": encoded}
    return load_with(StreamAudioSchema(), {"type": "streamAudio", "data": data})


class AudioMessages:
    """``streamAudio`` frames for one call's audio format, validated once.

    The hot path sends a frame per 100 ms of audio per call; running the schema
    on each one is wasted work when only the audio changes. The type and rate are
    checked here with the very rules of ``stream_audio`` (by calling it once),
    and the frame's text around the audio is kept, so ``encode(pcm)`` equals
    ``encode(stream_audio(pcm, audio_type, rate))`` character for character.
    """

    __slots__ = ("audio_type", "rate", "_head", "_tail")

    _PLACEHOLDER = "QUJD"  # valid base64 that no audioDataType contains

    def __init__(self, rate: int, audio_type: str = "raw") -> None:
        template = stream_audio(self._PLACEHOLDER, audio_type, rate)
        self.audio_type: str = template["data"]["audioDataType"]
        self.rate: int = template["data"]["sampleRate"]
        self._head, self._tail = encode(template).split(self._PLACEHOLDER)

    def encode(self, pcm: bytes) -> str:
        """The text frame playing ``pcm``; empty or non-bytes audio raises, as stream_audio does."""
        if not isinstance(pcm, (bytes, bytearray, memoryview)):
            raise ActionValidationError({"data": {"audioData": ["Must be bytes."]}})
        if not pcm:
            raise ActionValidationError({"data": {"audioData": ["Must not be empty."]}})
        return self._head + base64.b64encode(pcm).decode("ascii") + self._tail


def validate_message(message: Any) -> dict[str, Any] | list[dict[str, Any]]:
    """Validate anything we may send as a text frame: control, streamAudio or a PCMO list."""
    if isinstance(message, list):
        return validate_pcmo(message)
    if isinstance(message, dict) and message.get("type") == "streamAudio":
        return load_with(StreamAudioSchema(), message)
    if isinstance(message, dict) and "action" in message and message.get("action") in CONTROL_ACTIONS:
        return load_with(ControlSchema(), message)
    raise ActionValidationError(
        {"_schema": ["Must be a control message (pause, resume, stop, break), streamAudio, or a PCMO array."]}
    )


def encode(message: dict[str, Any] | list[dict[str, Any]]) -> str:
    """The JSON text frame for a message (compact, no spaces)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)
