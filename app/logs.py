"""Log lines that cannot be forged or leak secrets.

* Every record's message has its control characters escaped (``\\n`` becomes
  the two characters ``\\n``), so caller-supplied text (a number, a name, a
  path) can never start a line of its own. Installed process-wide by
  ``create_app`` as a log record factory, so it covers every logger and
  handler, including ones added later (gunicorn's, pytest's).
* ``RedactQuery`` removes query strings from gunicorn's error log, which
  prints raw request lines (``GET /x?token=… HTTP/1.1``) of malformed requests;
  gunicorn.conf.py installs it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# "?" to the end of the line: a query string in a URL or request line. Not to the next space: a
# malformed request line may hold spaces, and a token after one was logged (#25.12).
_QUERY = re.compile(r"\?.*")
# gunicorn's "Invalid request from ip=…: Invalid HTTP Version: 'token=… HTTP/1.1'" quotes a piece
# of the raw request line, which need not contain the "?": everything after the error's name goes.
_BAD_REQUEST = re.compile(r"^(Invalid request from ip=\S*?: [^'\"]*?)\s*['\"].*$", re.DOTALL)


def escape_controls(text: str) -> str:
    """``\\n``, ``\\r``, ``\\t`` and other control characters as visible escapes."""
    return _CONTROLS.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def redact_queries(text: str) -> str:
    """No query string, and no piece of a malformed request line, survives in ``text``."""
    text = _BAD_REQUEST.sub(r"\1 [redacted]", text)
    return _QUERY.sub("?[redacted]", text)


def _message(record: logging.LogRecord) -> str | None:
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string is logging's to report, not ours
        return None


def _escaped(record: logging.LogRecord) -> logging.LogRecord:
    message = _message(record)
    if message is not None and _CONTROLS.search(message):
        record.msg, record.args = escape_controls(message), ()
    return record


_installed = False


def install_escaping() -> None:
    """Wrap the log record factory once per process so every message is escaped."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _escaped(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True


class RedactQuery(logging.Filter):
    """Drop query strings (tokens, signatures) from a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = _message(record)
        if message is not None and ("?" in message or _BAD_REQUEST.match(message)):
            record.msg, record.args = escape_controls(redact_queries(message)), ()
        return True


# -- LOG_FORMAT=json: one JSON object a line, the call id, node and agent as fields ---------------------------

_CALL_PREFIX = re.compile(r"^call ([\w-]{6,64}): ")  # "call <id>: …", as CallLog and the views write it
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_agent_of: list[Any] = [None]  # set by create_app: call id -> the live call's agent name (or None)


def set_agent_lookup(lookup: Any) -> None:
    """``lookup(call_id) -> agent name | None`` for the ``agent`` field (the app's live calls)."""
    _agent_of[0] = lookup


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time, level, logger, message, call_id, node, agent (and exception).

    The message is the record's after the escaping and redaction above (filters run before formatters),
    so JSON changes where a line goes, never what it may show.
    """

    def __init__(self, node: str = "") -> None:
        super().__init__()
        self.node = node

    converter = time.gmtime  # UTC, as the Z says

    def format(self, record: logging.LogRecord) -> str:
        message = _message(record) or str(record.msg)
        call_id = getattr(record, "call_id", None)
        if call_id is None and (match := _CALL_PREFIX.match(message)):
            call_id = match.group(1)
        agent = getattr(record, "agent", None)
        if agent is None and call_id is not None and _agent_of[0] is not None:
            try:
                agent = _agent_of[0](call_id)
            except Exception:  # noqa: BLE001 - a field we could not fill never loses the line
                agent = None
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "call_id": call_id,
            "node": self.node or None,
            "agent": agent,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)  # its newlines stay inside the JSON string
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: str, node: str = "") -> logging.Formatter:
    """The formatter for ``LOG_FORMAT``: ``json``, else the plain text line."""
    return JsonFormatter(node) if log_format == "json" else logging.Formatter(TEXT_FORMAT)
