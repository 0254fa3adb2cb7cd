"""The one error type the action builders raise."""

from __future__ import annotations

from typing import Any


class ActionValidationError(ValueError):
    """A PCMO action, pipeline or socket message failed validation.

    ``messages`` maps field names (or list indexes) to lists of messages, the
    same shape marshmallow produces, so the HTTP layer can return it as is.
    """

    def __init__(self, messages: dict[str, Any] | list[Any] | str, message: str = "invalid action") -> None:
        if isinstance(messages, str):
            messages = {"_schema": [messages]}
        self.messages = messages
        super().__init__(f"{message}: {messages}")
