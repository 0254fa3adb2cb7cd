"""The gunicorn worker: gevent's, with every request body read under a deadline before the app runs.

A connection that trickles its body holds one of the pool's ``worker_connections`` slots for as
long as it lasts; a thousand of them, unauthenticated, kept ``/healthz`` and the answer webhook
from being accepted at all (#25.1). So, before the app sees a request, this worker:

- answers 413 when the declared Content-Length is over ``MAX_CONTENT_LENGTH`` (nothing is read);
- counts a body as slow once it has to wait on the network after FAST (half a second): a slow
  one is refused with 429 when its client already has ``REQUEST_BODIES_PER_CLIENT`` slow bodies,
  and 503 when half the pool holds slow bodies (the other half stays free for everyone else);
  when three quarters of the pool is in use, a body still waiting after FAST is refused (503).
  FAST holds whatever the load: a client sends its body in a second segment after the head
  (urllib3 does; Nagle's algorithm then waits one round trip, 100-300 ms from the platform's
  cloud), and a webhook must not be refused for that when the pool is crowded;
- and, when three quarters of the pool is in use, gives a request head (or an idle kept-alive
  connection) one second instead of ``keepalive``, and turns away new connections from an address
  that already has ``REQUEST_BODIES_PER_CLIENT`` connections waiting for their heads.
  A body sent along with its headers (any webhook) never counts, so it is never refused;
- reads the whole body with a minimum rate: ``REQUEST_BODY_TIMEOUT`` seconds of grace, then at
  least ``REQUEST_BODY_MIN_RATE`` bytes a second on average, or 408.

Each refusal closes the connection. Requests without a body (WebSocket upgrades among them) pass
as they are. The app then reads the body from memory, at once.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker

from app.config import load_config

log = logging.getLogger(__name__)

CHUNK = 16 * 1024
FAST = 0.5  # seconds a body may take before it counts as slow (against the per-client and worker caps)
PRESSURE = 0.75  # the share of the pool in use from which a body that has to wait is refused at once
CROWDED_HEAD_TIMEOUT = 1.0  # seconds a request head may take (or a connection idle) when crowded; else keepalive
REASONS = {408: "Request Timeout", 413: "Content Too Large", 429: "Too Many Requests", 503: "Service Unavailable"}


class Refused(Exception):
    """This request's body is not read; the status and message say why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class BodyLimits:
    max_length: int
    grace: float  # seconds every body gets before the minimum rate applies
    min_rate: float  # bytes a second, on average, after the grace
    per_client: int
    proxy_hops: int

    def deadline(self, start: float, received: int) -> float:
        """When ``received`` bytes must have arrived, at the latest."""
        return start + self.grace + received / self.min_rate

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BodyLimits:
        return cls(
            max_length=int(config["MAX_CONTENT_LENGTH"]),
            grace=float(config["REQUEST_BODY_TIMEOUT"]),
            min_rate=float(config["REQUEST_BODY_MIN_RATE"]),
            per_client=int(config["REQUEST_BODIES_PER_CLIENT"]),
            proxy_hops=int(config["TRUSTED_PROXY_HOPS"]),
        )


def declared_length(req: Any) -> int | None:
    """The request's Content-Length (gunicorn has checked it is one number); None when chunked."""
    names = {name: value for name, value in req.headers}
    if "TRANSFER-ENCODING" in names:  # gunicorn refuses any that does not end with chunked
        return None
    return int(names.get("CONTENT-LENGTH", 0))


def peer_of(addr: Any) -> str:
    """The address at the other end of the connection."""
    return str(addr[0]) if isinstance(addr, tuple) else str(addr)


def client_of(req: Any, addr: Any, proxy_hops: int) -> str:
    """Who sent it: the peer, or the address our trusted proxies put in X-Forwarded-For."""
    if proxy_hops:
        forwarded = [p.strip() for n, v in req.headers if n == "X-FORWARDED-FOR" for p in v.split(",") if p.strip()]
        if len(forwarded) >= proxy_hops:
            return forwarded[-proxy_hops]
    return peer_of(addr)


def _read_within(body: Any, size: int, seconds: float) -> bytes | None:
    """``body.read(size)``, or None when ``seconds`` pass first.

    Safe to call again after None for a body of known length: gunicorn keeps what arrived in its
    buffers (a chunked body's parser would not survive the interruption, so those are never retried).
    """
    timer = gevent.Timeout(max(seconds, 0.001))
    timer.start()
    try:
        return bytes(body.read(size))
    except gevent.Timeout as fired:
        if fired is not timer:
            raise
        return None
    finally:
        timer.close()


def read_body(
    body: Any, length: int | None, limits: BodyLimits, admit: Callable[[], None], fast: float = FAST
) -> bytes:
    """The whole body, or Refused (408 too slow, 413 too long); every read is bounded in time.

    ``admit`` (which may refuse) is called once, when the body first has to wait on the network after
    ``fast`` seconds: a body sent along with its headers is never counted against the caps, whatever
    the load, and a slow one is, before it may hold its connection any longer.
    """
    start = time.monotonic()
    parts: list[bytes] = []
    received = 0
    admitted = length is None
    if admitted:
        admit()
    while length is None or received < length:
        size = CHUNK if length is None else min(CHUNK, length - received)
        now = time.monotonic()
        remaining = limits.deadline(start, received + size) - now
        if remaining <= 0:
            raise Refused(408, f"The body came slower than {int(limits.min_rate)} bytes a second.")
        trial = remaining if admitted else min(remaining, start + fast - now)
        chunk = _read_within(body, size, trial)
        if chunk is None:
            if length is None:
                raise Refused(408, f"The body came slower than {int(limits.min_rate)} bytes a second.")
            if not admitted and time.monotonic() >= start + fast:
                admit()
                admitted = True
            continue
        if not chunk:
            break
        received += len(chunk)
        if received > limits.max_length:
            raise Refused(413, f"The body is larger than {limits.max_length} bytes.")
        parts.append(chunk)
    return b"".join(parts)


def refusal(status: int, message: str) -> bytes:
    """A complete HTTP response in the service's error shape, that closes the connection."""
    body = json.dumps({"code": REASONS[status].lower().replace(" ", "_"), "message": message, "errors": {}}).encode()
    head = (
        f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    )
    if status in (429, 503):
        head += "Retry-After: 5\r\n"
    return head.encode() + b"\r\n" + body


class GuardedWorker(GeventWorker):
    """gunicorn's gevent worker; ``handle_request`` first takes the body under the limits above."""

    def init_process(self) -> None:
        self.limits = BodyLimits.from_config(load_config())
        self.reading: Counter[str] = Counter()  # slow bodies, per client
        self.waiting: Counter[str] = Counter()  # connections waiting for a request head, per peer address
        self.connections = 0  # open now (calls' WebSockets among them)
        super().init_process()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        """One connection. When the pool is crowded, a peer already waiting on as many heads as the cap is
        turned away at once: slow or idle heads from one address cannot fill the pool (behind a proxy
        every client has its address, so this rule is off there)."""
        peer = peer_of(addr)
        if self._crowded() and not self.limits.proxy_hops and self.waiting[peer] >= self.limits.per_client:
            log.debug("connection from %s refused: %d waiting already", peer, self.waiting[peer])
            client.close()
            return
        self.connections += 1
        self.waiting[peer] += 1
        try:
            super().handle(listener, client, addr)
        finally:
            self.connections -= 1
            self._stop_waiting(peer)

    def _stop_waiting(self, peer: str) -> None:
        self.waiting[peer] -= 1
        if not self.waiting[peer]:
            del self.waiting[peer]

    def _crowded(self) -> bool:
        return self.connections >= self.worker_connections * PRESSURE

    def timeout_ctx(self) -> gevent.Timeout:
        """How long a request head may take (and a kept-alive connection idle): shorter when crowded."""
        return gevent.Timeout(CROWDED_HEAD_TIMEOUT if self._crowded() else self.cfg.keepalive, False)

    def _take_body(self, req: Any, sock: Any, addr: Any) -> None:
        length = declared_length(req)
        if length == 0:
            return
        if length is not None and length > self.limits.max_length:
            raise Refused(413, f"The body is larger than {self.limits.max_length} bytes.")
        client = client_of(req, addr, self.limits.proxy_hops)
        if getattr(req, "_expected_100_continue", False):
            req._expected_100_continue = False  # gunicorn would say it once the body is read: too late
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        admitted: list[str] = []

        def admit() -> None:
            if self.reading[client] >= self.limits.per_client:
                raise Refused(429, "Too many slow request bodies at once from this client.")
            if self._crowded() or sum(self.reading.values()) >= max(1, self.worker_connections // 2):
                raise Refused(503, "Too many slow request bodies at once.")
            self.reading[client] += 1
            admitted.append(client)

        try:
            req.body = io.BytesIO(read_body(req.body, length, self.limits, admit))
        finally:
            if admitted:
                self.reading[client] -= 1
                if not self.reading[client]:
                    del self.reading[client]

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> bool:
        peer = peer_of(addr)
        self._stop_waiting(peer)  # the head is in: this connection is not waiting any more, until it is done
        try:
            return self._serve(listener_name, req, sock, addr)
        finally:
            self.waiting[peer] += 1  # back to waiting for its next request head (kept alive)

    def _serve(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> bool:
        try:
            self._take_body(req, sock, addr)
        except Refused as refused:
            log.debug("request body refused (%s): %s", refused.status, refused.message)
            try:
                sock.sendall(refusal(refused.status, refused.message))
            except OSError:
                pass
            raise StopIteration() from None  # gunicorn closes the connection
        return bool(super().handle_request(listener_name, req, sock, addr))
