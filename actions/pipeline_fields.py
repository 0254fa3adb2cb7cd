"""marshmallow fields of the v3 pipeline vocabulary (PROTOCOL.md sections 1 and 3).

v3 numbers are digit strings, agent ids UUIDs, and ``param``/``variables`` data a
flat key/value object: these fields check exactly that, as piopiy 1.2.2's
``piopiy.voice.validators`` does.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from marshmallow import ValidationError, fields

from actions.fields import PHONE_RE, StrictStr

_VAR_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class V3Phone(StrictStr):
    """v3 numbers are strings of 7 to 16 digits (no "+", no leading 0)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        if not PHONE_RE.match(value):
            raise ValidationError("Must match ^[1-9][0-9]{6,15}$.")
        return value


class UUIDStr(StrictStr):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            uuid.UUID(value)
        except ValueError:
            raise ValidationError("Must be a valid UUID string.") from None
        return value


class Number(fields.Field):
    def __init__(self, *, minimum: float, maximum: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum, self.maximum = minimum, maximum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("Must be a number.")
        if not self.minimum <= value <= self.maximum:
            raise ValidationError(f"Must be between {self.minimum} and {self.maximum}.")
        return value


class Variables(fields.Field):
    """Flat key/value data: identifier keys, string/number/boolean values."""

    def __init__(self, *, max_properties: int | None = None, max_string_len: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_properties, self.max_string_len = max_properties, max_string_len

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError("Must be an object.")
        if self.max_properties is not None and len(value) > self.max_properties:
            raise ValidationError(f"At most {self.max_properties} entries.")
        errors: dict[str, list[str]] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not _VAR_KEY_RE.match(key):
                errors[str(key)] = ["Key must match ^[A-Za-z_][A-Za-z0-9_]*$."]
            elif isinstance(item, str):
                if self.max_string_len is not None and len(item) > self.max_string_len:
                    errors[key] = [f"At most {self.max_string_len} characters."]
            elif not isinstance(item, (bool, int, float)):
                errors[key] = ["Must be a string, number or boolean."]
        if errors:
            raise ValidationError(errors)
        return value


class InputModes(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if not isinstance(value, list) or not value:
            raise ValidationError("Must be a non-empty array.")
        if any(mode not in ("dtmf", "speech") for mode in value):
            raise ValidationError("Each item must be dtmf or speech.")
        if len(set(value)) != len(value):
            raise ValidationError("Items must not repeat.")
        return value
