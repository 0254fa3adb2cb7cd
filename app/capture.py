"""What the platform really sent, written down: ``PLATFORM_CAPTURE=<dir>`` (issue #20.7; docs/platform.md).

Everything the service knows about Piopiy came from its docs; a capture from a
first real call says what it actually does. Each serving process appends JSON
lines to ``<dir>/platform-capture-<pid>.jsonl``:

- ``{"kind": "webhook", …}``: every webhook as received (path without the query,
  headers, the body as sent: JSON, or form/raw text), secrets redacted;
- ``{"kind": "socket", …}``: per stream socket, at its end: the handshake
  headers (the offered extensions too), its text frames, binary frame sizes, an
  inter-arrival histogram, what each frame we sent (``pause``, ``break`` …) did
  to the inbound frames in the second after it, and the close codes both ways.

A user attaches the file to a bug report; ``python -m emulator replay <file>``
posts its webhooks to a local service. Off (the default) it costs nothing: the
socket is not wrapped and no line is written.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

SECRET_KEYS = re.compile(r"token|secret|password|passwd|authorization|api[_-]?key|sig$|signature|cookie", re.I)
REDACTED = "[redacted]"
MAX_BODY = 65536  # a webhook body longer than this is cut (no real one is)
MAX_TEXT_FRAMES = 50  # per socket
GAP_BUCKETS_MS = (5, 10, 15, 19, 21, 25, 30, 40, 60, 100, 200, 500, 1000, 5000)
AFTER_OUR_TEXT_S = 1.0

_lock = threading.Lock()


def redact(value: Any, depth: int = 0) -> Any:
    """``value`` with every secret-named key's value replaced (nested dicts and lists too)."""
    if depth > 20:
        return REDACTED
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEYS.search(str(k)) else redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, depth + 1) for v in value[:1000]]
    return value


def redact_text(text: str) -> str:
    """A form body or query string with secret-named parameters' values replaced."""
    return re.sub(r"(?i)([^&=\s]*(?:token|secret|password|api[_-]?key|sig)[^&=\s]*)=[^&\s]*", rf"\1={REDACTED}", text)


def write(directory: str, record: dict[str, Any]) -> None:
    """Append one JSON line to this process's capture file (never raises: a capture must not break a call)."""
    try:
        path = Path(directory)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = json.dumps({"at": round(time.time(), 3), **record}, default=str, ensure_ascii=False)
        # 0600, as the databases and recordings: it holds phone numbers and the platform's bodies (review D6)
        fd = os.open(path / f"platform-capture-{os.getpid()}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with _lock, os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(line + "\n")
    except (OSError, ValueError, TypeError):
        pass


def headers_of(headers: Any, environ: dict[str, Any] | None = None) -> dict[str, str]:
    found = {str(k): REDACTED if SECRET_KEYS.search(str(k)) else str(v)[:500] for k, v in headers.items()}
    offered = (environ or {}).get("callstream.offered_extensions")  # taken out of the handshake by app/live/socket
    if offered:
        found["Sec-Websocket-Extensions (offered)"] = str(offered)[:500]
    return found


def webhook(directory: str, request: Any) -> None:
    """Write one webhook as received (called by the webhooks blueprint once the token is checked)."""
    raw = request.get_data(cache=True)[:MAX_BODY].decode("utf-8", errors="replace")
    record: dict[str, Any] = {
        "kind": "webhook",
        "method": request.method,
        "path": request.path,
        "query": sorted(request.args.keys()),  # names only: the token rides in the query
        "content_type": request.content_type,
        "headers": headers_of(request.headers),
    }
    try:
        record["json"] = redact(json.loads(raw))
    except ValueError:
        record["text"] = redact_text(raw)
    write(directory, record)


def histogram(gaps_ms: list[float]) -> dict[str, int]:
    """Inter-arrival gaps counted in buckets ("<=20" …, ">5000")."""
    counts: Counter[str] = Counter()
    for gap in gaps_ms:
        bucket = next((f"<={b}" for b in GAP_BUCKETS_MS if gap <= b), f">{GAP_BUCKETS_MS[-1]}")
        counts[bucket] += 1
    return {f"<={b}": counts[f"<={b}"] for b in GAP_BUCKETS_MS if counts[f"<={b}"]} | (
        {f">{GAP_BUCKETS_MS[-1]}": counts[f">{GAP_BUCKETS_MS[-1]}"]} if counts[f">{GAP_BUCKETS_MS[-1]}"] else {}
    )


class WatchedSocket:
    """A stream socket (the ``Socket`` protocol of streams/link/websocket.py) that notes what crosses it."""

    def __init__(self, socket: Any, directory: str, call_id: str, headers: dict[str, str]) -> None:
        self._socket, self._directory, self._call_id, self._headers = socket, directory, call_id, headers
        self._t0 = time.monotonic()
        self._last: float | None = None
        self._gaps: list[float] = []
        self._sizes: Counter[int] = Counter()
        self._texts_in: list[dict[str, Any]] = []
        self._texts_out: list[dict[str, Any]] = []
        self._closes: list[dict[str, Any]] = []
        self._written = False

    def __getattr__(self, name: str) -> Any:  # connected, dropped, …: the socket's own
        return getattr(self._socket, name)

    def _now(self) -> float:
        return round(time.monotonic() - self._t0, 3)

    def receive(self, timeout: float | None = None) -> bytes | str | None:
        try:
            message = self._socket.receive(timeout)
        except Exception as exc:
            code, message = getattr(exc, "reason", None), getattr(exc, "message", None)
            self._closes.append({"t": self._now(), "by": "peer", "code": code, "reason": message})
            self.finish()
            raise
        if isinstance(message, (bytes, bytearray)):
            now = time.monotonic()
            if self._last is not None:
                self._gaps.append((now - self._last) * 1000)
            self._last = now
            self._sizes[len(message)] += 1
            for sent in self._texts_out:
                if 0 <= now - self._t0 - sent["t"] <= AFTER_OUR_TEXT_S:
                    sent["inbound_frames_next_1s"] += 1
        elif isinstance(message, str) and len(self._texts_in) < MAX_TEXT_FRAMES:
            self._texts_in.append({"t": self._now(), "text": redact_text(message[:4000])})
        return message

    def send_text(self, text: str) -> None:
        if len(self._texts_out) < MAX_TEXT_FRAMES:
            self._texts_out.append({"t": self._now(), "text": text[:500], "inbound_frames_next_1s": 0})
        self._socket.send_text(text)

    def send_bytes(self, data: bytes) -> None:
        self._socket.send_bytes(data)

    def close(self, code: int, reason: str) -> None:
        self._closes.append({"t": self._now(), "by": "service", "code": code, "reason": reason})
        try:
            self._socket.close(code, reason)
        finally:
            self.finish()

    def finish(self) -> None:
        """Write this socket's record once (its close, from either side)."""
        if self._written:
            return
        self._written = True
        write(
            self._directory,
            {
                "kind": "socket",
                "call_id": self._call_id,
                "headers": self._headers,
                "seconds": self._now(),
                "text_frames_in": self._texts_in,
                "text_frames_out": self._texts_out,
                "frame_sizes": {str(size): n for size, n in sorted(self._sizes.items())},
                "frames_in": sum(self._sizes.values()),
                "inter_arrival_ms": histogram(self._gaps),
                "closes": self._closes,
            },
        )


def watch(socket: Any, config: Any, call_id: str, request: Any) -> Any:
    """The socket itself when capture is off; else one that writes what crossed it when it closes."""
    directory = config.get("PLATFORM_CAPTURE")
    if not directory:
        return socket
    return WatchedSocket(socket, directory, call_id, headers_of(request.headers, request.environ))
