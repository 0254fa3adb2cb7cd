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

import logging
import re
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
