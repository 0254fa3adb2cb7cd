"""Generated input over real sockets to the browser's WebSocket (listen-in) and the handshake of every socket
route, against a real gunicorn: every answer is 101, 400 or 403; whatever a page sends after the upgrade is
read and dropped or refused with a close code; the service stays healthy and logs no traceback (#25)."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from simple_websocket import Client
from wsproto.frame_protocol import Opcode

from emulator.service import Service
from tests.service.test_browser_sockets import FRAME, listen, live_call, raw_request, service, signed_in  # noqa: F401

BOUNDED = settings(max_examples=120, deadline=None, database=None, suppress_health_check=list(HealthCheck))
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)  # what a header can hold
KEYS = st.one_of(
    st.binary(min_size=16, max_size=16).map(lambda b: base64.b64encode(b).decode()),
    st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode()),
    HEADER_TEXT,
    st.none(),
)
VERSIONS = st.one_of(st.sampled_from(["13", "8", "", "14", "13, 8", " 13 "]), HEADER_TEXT, st.none())
ORIGINS = st.one_of(st.sampled_from(["own", "https://evil.example", "null", "own-https"]), HEADER_TEXT, st.none())


@pytest.fixture(scope="module")
def call(service: Service) -> Iterator[tuple[str, Client, str]]:  # noqa: F811 - the shared module fixture
    call_id, platform = live_call(service.url)
    try:
        yield call_id, platform, signed_in(service.url)
    finally:
        platform.close()


def upgrade_request(path: str, key: str | None, version: str | None, origin: str | None, host: str) -> str:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade"]
    lines += [f"Sec-WebSocket-Key: {key}"] if key is not None else []
    lines += [f"Sec-WebSocket-Version: {version}"] if version is not None else []
    lines += [f"Origin: {origin}"] if origin is not None else []
    return "\r\n".join(lines) + "\r\n\r\n"


def test_generated_handshakes_get_101_400_or_403(service: Service, call) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    call_id, platform, _ = call
    host = service.url.removeprefix("http://")
    paths = [f"/dashboard/calls/{call_id}/listen", "/dashboard/calls/none/listen", "/stream/none?exp=1&sig=x"]
    seen: set[str] = set()

    valid = "dGhlIHNhbXBsZSBub25jZQ=="

    @BOUNDED
    @given(path=st.sampled_from(paths), key=KEYS, version=VERSIONS, origin=ORIGINS)
    @example(path=paths[0], key=valid, version="13", origin="own")  # each answer at least once
    @example(path=paths[0], key=valid, version="13", origin="https://evil.example")
    @example(path=paths[2], key=None, version="13", origin=None)
    def run(path: str, key: str | None, version: str | None, origin: str | None) -> None:
        origin = {"own": service.url, "own-https": f"https://{host}"}.get(origin or "", origin)
        head = raw_request(service.url, upgrade_request(path, key, version, origin, host))
        status = head.split(" ", 2)[1] if head.startswith("HTTP/1.1 ") else head[:40]
        seen.add(status)
        assert status in ("101", "400", "403"), head[:300]

    run()
    platform.send(FRAME)  # the call stays live through the run
    assert {"101", "400", "403"} <= seen
    assert_healthy(service)


def test_generated_messages_from_a_page_are_read_dropped_or_refused(service: Service, call) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    call_id, platform, cookie = call

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(
        messages=st.lists(
            st.one_of(
                st.binary(max_size=6000),
                st.text(max_size=3000),
                st.tuples(st.sampled_from(list(Opcode)), st.binary(max_size=200)),  # any frame type, raw
                st.binary(min_size=1, max_size=64).map(lambda b: ("raw", b)),  # not WebSocket framing at all
            ),
            max_size=6,
        )
    )
    def run(messages: list) -> None:
        listener = listen(service.url, call_id, cookie, service.url, platform)
        try:
            for message in messages:
                if not listener.connected:
                    break
                send(listener, message)
            time.sleep(0.01)
        finally:
            if listener.connected:
                listener.close()
            listener.sock.close()

    run()
    assert_healthy(service)


def send(listener: Client, message: object) -> None:
    """One message the way a page (or a hostile client) could put it on the wire."""
    try:
        if isinstance(message, tuple) and message[0] == "raw":
            listener.sock.sendall(message[1])
        elif isinstance(message, tuple):
            opcode, payload = message
            fin = 0x80 if opcode not in (Opcode.CONTINUATION,) else 0x00
            header = bytes([fin | int(opcode), 0x80 | len(payload)]) if len(payload) < 126 else None
            if header is None:
                header = bytes([0x80 | int(opcode), 0x80 | 126]) + len(payload).to_bytes(2, "big")
            mask = b"\x01\x02\x03\x04"
            listener.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        else:
            listener.send(message)
    except (OSError, ConnectionError):
        pass


def assert_healthy(running: Service) -> None:
    assert requests.get(f"{running.url}/healthz", timeout=5).status_code == 200
    log = Path(running.log_path).read_text(errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 500 :][:3000]
    with socket.create_connection(("127.0.0.1", int(running.url.rsplit(":", 1)[1])), timeout=5):
        pass  # still accepting connections
