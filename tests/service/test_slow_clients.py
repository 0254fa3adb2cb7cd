"""Slow request bodies (#25.1): a few hundred of them never keep calls from being answered.

The attack: connections that each send ``POST /login`` with a large Content-Length and then one
body byte every two seconds. Each one holds a slot of the gevent worker's pool for as long as it
trickles; when they hold them all, nothing else is accepted. The pool is scaled down here
(WORKER_CONNECTIONS=200) so that a few hundred fill it, as a thousand fill the default.
"""

from __future__ import annotations

import json
import selectors
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.service import service_process
from emulator.wsclient import connect
from tests.conftest import WEBHOOK_TOKEN, base_config
from tests.support.streaming import act, call_id_of, drain, runtime, stream_url, wait_for

# loopback too: the slow clients come from other addresses than the platform's
ONE_ATTACKER = ["127.0.0.2"]
MANY_ATTACKERS = [f"127.0.1.{n}" for n in range(1, 21)]  # 15 slow bodies each: under the per-client cap
SLOW_CLIENTS = 300
ATTACK_SECONDS = 15.0


SLOW_BODY = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
SLOW_BODY += b"Content-Length: 100000\r\n\r\nu"  # then a body byte every 2 s
SLOW_HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: u"  # then a header byte every 2 s, never the end


def _open_slow_request(port: int, source: str, start: bytes) -> socket.socket | None:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(2)
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(start)
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    return sock


class SlowBodies:
    """Keeps up to SLOW_CLIENTS slow requests open: a byte every 2 s each, reopening those the server closes."""

    def __init__(self, port: int, sources: list[str], start: bytes = SLOW_BODY) -> None:
        self.port = port
        self.sources = sources
        self.start = start
        self.opened = 0
        self.selector = selectors.DefaultSelector()
        self.refused = 0  # closed by the server (an answer, or a reset)

    def _top_up(self) -> None:
        for _ in range(min(100, SLOW_CLIENTS - len(self.selector.get_map()))):
            self.opened += 1
            sock = _open_slow_request(self.port, self.sources[self.opened % len(self.sources)], self.start)
            if sock is not None:
                self.selector.register(sock, selectors.EVENT_READ)

    def _drop(self, sock: socket.socket) -> None:
        self.selector.unregister(sock)
        sock.close()
        self.refused += 1

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        next_byte = time.monotonic() + 2
        next_top_up = 0.0
        while time.monotonic() < end:
            if time.monotonic() >= next_top_up:  # at most 100 new connections each 0.2 s
                next_top_up = time.monotonic() + 0.2
                self._top_up()
            for key, _ in self.selector.select(timeout=0.2):
                self._drop(key.fileobj)  # the server answered (408/429) or closed: the slot is free again
            if time.monotonic() >= next_byte:
                next_byte += 2
                for key in list(self.selector.get_map().values()):
                    try:
                        key.fileobj.send(b"x")
                    except OSError:
                        self._drop(key.fileobj)

    def close(self) -> None:
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()


@pytest.mark.parametrize(
    ("sources", "start"),
    [(ONE_ATTACKER, SLOW_BODY), (MANY_ATTACKERS, SLOW_BODY), (ONE_ATTACKER, SLOW_HEAD)],
    ids=["bodies from one address", "bodies from twenty addresses", "heads from one address"],
)
def test_a_few_hundred_slow_requests_leave_the_answer_webhook_and_healthz_answering(
    tmp_path: Path, sources: list[str], start: bytes
) -> None:
    """Each round: /healthz, the answer webhook, and a command to a live call heard on its socket."""
    import threading

    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0, WORKER_CONNECTIONS=200)
    with service_process(config) as service:
        port = int(service.url.rsplit(":", 1)[1])
        url = stream_url(service.url)
        ws = connect(url)
        ws.send(b"\x01\x00" * 160)
        wait_for(lambda: runtime(service.url)["sessions"] == 1)
        attack = SlowBodies(port, sources, start)
        attacker = threading.Thread(target=attack.run_for, args=(ATTACK_SECONDS,), daemon=True)
        attacker.start()
        time.sleep(3)  # the slow requests are open (and on the old code hold every slot)
        latencies: list[float] = []
        failures: list[str] = []
        try:
            while attacker.is_alive() and len(latencies) < 40:
                try:
                    latencies.append(_round(service.url, ws, call_id_of(url), len(latencies)))
                except (requests.RequestException, AssertionError) as error:
                    failures.append(repr(error)[:300])
                time.sleep(0.25)
        finally:
            attacker.join(timeout=ATTACK_SECONDS + 5)
            attack.close()
            ws.close()
    assert failures == []
    assert len(latencies) >= 10
    assert max(latencies) < 2.0, sorted(latencies)[-5:]
    assert attack.refused > 0  # the server cut slow requests instead of waiting on them


def _round(service: str, ws: Any, call_id: str, n: int) -> float:
    started = time.monotonic()
    health = requests.get(f"{service}/healthz", timeout=3)
    body = {"from": "919876543210", "to": "919111111111", "time": "now", "cmiuuid": f"s-{started}"}
    pcmo = requests.post(f"{service}/webhooks/piopiy/answer", params={"token": WEBHOOK_TOKEN}, json=body, timeout=3)
    assert health.status_code == 200 and pcmo.status_code == 200, (health.text, pcmo.text)
    # the platform's head, then its body one round trip later (Nagle over ~200 ms): never refused as slow
    port = int(service.rsplit(":", 1)[1])
    split = _answer_in_two_segments(port, f"s2-{started}", gap=0.2)
    assert split.startswith(b"HTTP/1.1 200"), split[:300]
    command = "pause" if n % 2 == 0 else "resume"
    assert act(service, call_id, action=command).status_code == 200
    heard: list[Any] = []
    while {"action": command} not in heard and time.monotonic() - started < 3:
        ws.send(b"\x01\x00" * 160)
        heard += drain(ws, 0.02)
    assert {"action": command} in heard, f"the live call never heard {command}"
    return time.monotonic() - started


def _answer_in_two_segments(port: int, cmiuuid: str, gap: float) -> bytes:
    """The answer webhook with its JSON body sent ``gap`` seconds after its head, as a separate segment."""
    body = json.dumps({"from": "919876543210", "to": "919111111111", "time": "now", "cmiuuid": cmiuuid}).encode()
    head = f"POST /webhooks/piopiy/answer?token={WEBHOOK_TOKEN} HTTP/1.1\r\nHost: x\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(head.encode())
        time.sleep(gap)
        sock.sendall(body)
        return _until_closed(sock)


def _exchange(port: int, request: bytes, *, trickle: float = 0.0, wait: float = 10.0) -> tuple[bytes, float]:
    """Send ``request`` (then, with ``trickle``, one more byte that often) and return the answer, and when."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(request)
        if trickle:
            sock.settimeout(trickle)
            answer = b""
            while time.monotonic() - started < wait and not answer:
                try:
                    answer = sock.recv(65536)
                except TimeoutError:
                    sock.sendall(b"x")
        else:
            answer = _until_closed(sock)
    return answer, time.monotonic() - started


def _until_closed(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def test_bodies_are_refused_before_reading_when_too_long_and_cut_when_too_slow(tmp_path: Path) -> None:
    config = base_config(
        tmp_path, "http://127.0.0.1:1", VOICE_ENABLED=0, REQUEST_BODY_TIMEOUT=1, REQUEST_BODY_MIN_RATE=1000,
        MAX_CONTENT_LENGTH=4096,
    )  # fmt: skip
    with service_process(config) as service:
        port = int(service.url.rsplit(":", 1)[1])
        head = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        answer, took = _exchange(port, head + b"Content-Length: 5000\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 413") and took < 1
        answer, took = _exchange(port, head + b"Content-Length: 3000\r\n\r\nu=", trickle=0.5)
        assert answer.startswith(b"HTTP/1.1 408") and b"Connection: close" in answer
        assert 1 <= took < 5  # 1 s of grace, then 1,000 bytes a second: a byte each 0.5 s is far too slow
        chunked = head + b"Transfer-Encoding: chunked\r\n\r\n" + b"1400\r\n" + b"a" * 0x1400 + b"\r\n0\r\n\r\n"
        answer, _ = _exchange(port, chunked)
        assert answer.startswith(b"HTTP/1.1 413")
        form = b"from=919876543210&to=919111111111&time=now&cmiuuid=chunked-1"
        hook = b"POST /webhooks/piopiy/answer?token=" + WEBHOOK_TOKEN.encode() + b" HTTP/1.1\r\nHost: x\r\n"
        hook += b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
        answer, _ = _exchange(
            port, hook + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(form), form)
        )
        assert answer.startswith(b"HTTP/1.1 200") and b'"stream"' in answer
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # Expect: 100-continue, then the body
            sock.sendall(hook + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(form))
            assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
            sock.sendall(form.replace(b"chunked-1", b"expected1"))
            answer = _until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        body = {"from": "919876543210", "to": "919111111111", "time": "now", "cmiuuid": "fine-1"}
        fine = requests.post(
            f"{service.url}/webhooks/piopiy/answer", params={"token": WEBHOOK_TOKEN}, data=body, timeout=5
        )
        assert fine.status_code == 200 and fine.json()[-1]["action"] == "stream"
