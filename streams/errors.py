"""What a live session says when it cannot do what was asked."""

from __future__ import annotations


class SessionError(Exception):
    """An action a live session refused; ``status`` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 409, code: str = "conflict") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
