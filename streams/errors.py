"""What a live call says when it cannot do what was asked.

Every refusal is a ``CallError`` subclass carrying its own HTTP status and
machine-readable code, so the REST API, the dashboard and (across processes)
the command bus all report the same thing the same way.
"""

from __future__ import annotations


class CallError(Exception):
    """A command the call refused; ``status`` and ``code`` say why to an HTTP client."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | int | None]:
        return {"status": self.status, "code": self.code, "message": self.message, "field": self.field}


class CallNotLive(CallError):
    status, code = 409, "call_not_live"


class TransferInProgress(CallError):
    status, code = 409, "transfer_in_progress"


class AlreadyHandedOff(CallError):
    status, code = 409, "already_handed_off"


class NoTransferTarget(CallError):
    status, code = 422, "no_transfer_target"


class InvalidTransfer(CallError):
    """The bridge could not be built (e.g. no caller id: set PIOPIY_NUMBER or human.caller_id)."""

    status, code = 422, "invalid_transfer"


class BadMedia(CallError):
    """A file reference the call will not play (not a URL or plain name, a host not allowed)."""

    status, code = 422, "bad_media"


class CommandUnavailable(CallError):
    """The call lacks a part the command needs (e.g. text to speech)."""

    status, code = 501, "not_available"


class CallBusy(CallError):
    """Too much is queued on the call already; try again shortly."""

    status, code = 503, "call_busy"


ERRORS: dict[str, type[CallError]] = {
    cls.code: cls
    for cls in (
        CallError,
        CallNotLive,
        TransferInProgress,
        AlreadyHandedOff,
        NoTransferTarget,
        CommandUnavailable,
        CallBusy,
    )
}


def error_from_dict(data: dict[str, object]) -> CallError:
    """Rebuild an error that crossed a process boundary as ``to_dict()``."""
    cls = ERRORS.get(str(data.get("code")), CallError)
    error = cls(str(data.get("message", "")), field=data.get("field") if isinstance(data.get("field"), str) else None)
    return error
