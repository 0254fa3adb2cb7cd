"""marshmallow fields stricter than the stock ones, shared by every schema here.

The platform is typed loosely (the legacy SDK sends numbers as ints, v3 as
strings, voice_quality as either), so these fields validate the value but keep
the JSON type the caller gave, which is what makes our output equal the SDK's.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from marshmallow import ValidationError, fields

PHONE_RE = re.compile(r"^[1-9][0-9]{6,15}$")
VOICE_QUALITIES = (8000, 12000, 16000, 32000)


def is_http_url(value: str) -> bool:
    """True for an absolute http(s) or ftp URL with a host (the SDK's isURL)."""
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https", "ftp") and bool(parsed.netloc)


MAX_FILE_NAME = 255  # the longest file name common file systems (and so the platform's store) hold


def is_file_name(value: str) -> bool:
    """A file the platform can hold: 1-255 printable characters; folders as ``a/b.wav`` (the SDK's own
    example plays ``path/to/your_audio_file.wav``) but no leading "/", no "." or ".." part, no backslash.

    Printable excludes NUL, line breaks and every other control or separator character, which
    went to the platform as they were.
    """
    parts = value.split("/")
    return (
        0 < len(value) <= MAX_FILE_NAME
        and value.isprintable()
        and "\\" not in value
        and all(part.strip() not in ("", ".", "..") for part in parts)
    )


def is_clean_url(value: str) -> bool:
    """No spaces or control characters anywhere (a URL that has them is not one to pass on)."""
    return value.isprintable() and not any(c.isspace() for c in value)


def is_ws_url(value: str) -> bool:
    """True for an absolute ws:// or wss:// URL with a host."""
    parsed = urlparse(value)
    return parsed.scheme in ("ws", "wss") and bool(parsed.netloc)


class StrictBool(fields.Field):
    """Only JSON true/false: "yes", 1 and "true" are errors, not guesses."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class StrictInt(fields.Field):
    """An integer that is not a bool, a float or a numeric string."""

    def __init__(self, *, minimum: int | None = None, maximum: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        self.maximum = maximum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Must be an integer.")
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"Must be at least {self.minimum}.")
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(f"Must be at most {self.maximum}.")
        return value


class StrictStr(fields.Field):
    """A string (never a number coerced to one), optionally non-empty and bounded."""

    def __init__(self, *, non_empty: bool = False, max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.non_empty = non_empty
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError("Must be a string.")
        if self.non_empty and not value.strip():
            raise ValidationError("Must not be empty.")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(f"Must be at most {self.max_length} characters.")
        return value


class LegacyNumber(fields.Field):
    """A phone number for the legacy PCMO: an int on the wire.

    Digit strings are accepted and turned into ints (the SDK would refuse them);
    anything that is not 7-16 digits with no leading zero is an error.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValidationError("Must be a phone number (digits only).")
        text = str(value).strip().lstrip("+")
        if not PHONE_RE.match(text):
            raise ValidationError("Must be a phone number of 7 to 16 digits, not starting with 0.")
        return int(text)


class PhoneString(fields.Field):
    """A phone number for v3 and our REST API: a digit string, "+" allowed and dropped."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValidationError("Must be a phone number (digits only).")
        text = str(value).strip()
        if text.startswith("+"):
            text = text[1:]
        if not PHONE_RE.match(text):
            raise ValidationError("Must match ^[1-9][0-9]{6,15}$ (digits only, 7 to 16 of them).")
        return text


class VoiceQuality(fields.Field):
    """A sample rate for the stream action, kept as the int or string it came as."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | str:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValidationError(f"Must be one of {', '.join(map(str, VOICE_QUALITIES))}.")
        try:
            rate = int(value)
        except ValueError:
            rate = -1
        if rate not in VOICE_QUALITIES:
            raise ValidationError(f"Must be one of {', '.join(map(str, VOICE_QUALITIES))}.")
        return value


class WsUrl(StrictStr):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        if not is_ws_url(value):
            raise ValidationError("Must be a ws:// or wss:// URL.")
        return value


class HttpUrl(StrictStr):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        if not is_http_url(value) or not is_clean_url(value):
            raise ValidationError("Must be an http:// or https:// URL (no spaces or control characters).")
        return value


class FileName(StrictStr):
    """A file the platform plays: an http(s) URL, or a file name it can hold (``is_file_name``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        if is_http_url(value) and is_clean_url(value):
            return value
        if not is_file_name(value):
            raise ValidationError(
                f"Must be a URL, or a file name of at most {MAX_FILE_NAME} printable characters (no \\, . or ..)."
            )
        return value
