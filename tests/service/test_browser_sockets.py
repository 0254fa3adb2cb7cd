"""The dashboard's listen-in socket and every socket route over a real gunicorn: Origin refused before the
upgrade (#22.6), what the browser sends read and bounded (#25.5), a bad upgrade a 400 with no traceback
in the log (#25.11)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from simple_websocket import Client, ConnectionClosed
from simple_websocket import ConnectionError as Refused

from emulator.service import Service, service_process
from emulator.wsclient import connect
from tests.conftest import base_config
from tests.support.streaming import call_id_of, stream_url, wait_for

PASSWORD = "browser-sockets-pass"
FRAME = b"\x01\x00" * 160


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("browser-sockets")
    config = base_config(
        tmp, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0, DASHBOARD_USER="ops", DASHBOARD_PASSWORD=PASSWORD
    )
    with service_process(config) as running:
        yield running


def signed_in(url: str) -> str:
    """A signed-in session's Cookie header."""
    session = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(f"{url}/login", timeout=5).text).group(1)
    session.post(f"{url}/login", data={"username": "ops", "password": PASSWORD, "csrf_token": token}, timeout=10)
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def raw_request(url: str, request: str, source: str = "127.0.0.1") -> str:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5, source_address=(source, 0)) as conn:
        conn.sendall(request.encode())
        return conn.recv(4096).decode(errors="replace")


def live_call(url: str):  # type: ignore[no-untyped-def]
    """A live call (its socket kept open): (call id, the platform's socket)."""
    ws_url = stream_url(url)
    platform = connect(ws_url)
    platform.send(FRAME)
    return call_id_of(ws_url), platform


def listen(url: str, call_id: str, cookie: str, origin: str | None, platform: Client | None = None) -> Client:
    headers = {"Cookie": cookie} | ({"Origin": origin} if origin else {})
    listener = Client.connect(f"{url.replace('http', 'ws')}/dashboard/calls/{call_id}/listen", headers=headers)
    if platform is not None:
        # simple-websocket's client reads its handshake answer once and keeps a message that arrived with it
        # until more data comes: the caller's next frame brings it out.
        platform.send(FRAME)
    return listener


def test_a_bad_upgrade_is_a_400_and_no_traceback(service: Service) -> None:
    for path in ("/stream/abc?exp=1&sig=2", "/dashboard/calls/abc/listen"):
        for extra in ("", "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"):
            head = raw_request(
                service.url,
                f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{extra}\r\n",
            )
            assert head.startswith("HTTP/1.1 400"), head[:200]
    time.sleep(0.3)
    log = Path(service.log_path).read_text(errors="replace")
    assert "Traceback" not in log and "WebSocket upgrade of /stream/abc refused" in log


def test_listen_in_takes_only_this_services_own_pages(service: Service) -> None:
    call_id, platform = live_call(service.url)
    cookie = signed_in(service.url)
    try:
        for origin in ("https://evil.example", None):
            with pytest.raises(Refused, match="403"):  # before the upgrade
                listen(service.url, call_id, cookie, origin)
        listener = listen(service.url, call_id, cookie, service.url, platform)
        assert listener.receive(timeout=5) == '{"rate": 8000}'
        listener.close()
    finally:
        platform.close()


def test_listen_in_declines_permessage_deflate(service: Service) -> None:
    """Browsers offer permessage-deflate: accepted, a 4 KB message could inflate to megabytes before the 4 KB
    bound saw it. Declined, as on the stream."""
    call_id, platform = live_call(service.url)
    cookie = signed_in(service.url)
    try:
        head = raw_request(
            service.url,
            f"GET /dashboard/calls/{call_id}/listen HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            f"Origin: {service.url}\r\nCookie: {cookie}\r\n\r\n",
        )
        assert head.startswith("HTTP/1.1 101"), head[:200]
        assert "sec-websocket-extensions" not in head.split("\r\n\r\n")[0].lower(), head[:400]
    finally:
        platform.close()


def test_listen_in_reads_what_the_browser_sends_and_bounds_it(service: Service) -> None:
    call_id, platform = live_call(service.url)
    cookie = signed_in(service.url)
    try:
        listener = listen(service.url, call_id, cookie, service.url, platform)
        assert listener.receive(timeout=5) == '{"rate": 8000}'
        for _ in range(50):
            listener.send(b"x" * 1000)  # small messages are read and dropped; the audio keeps coming
        platform.send(FRAME)
        assert wait_for(lambda: _audio(listener), timeout=5)
        listener.send(b"x" * 64 * 1024)  # more than a listen-in message may be
        wait_for(lambda: not listener.connected, timeout=5)
        assert listener.close_reason == 1009
    finally:
        platform.close()


def _audio(listener: Client) -> bool:
    try:
        message = listener.receive(timeout=0.2)
    except ConnectionClosed:
        return False
    return isinstance(message, bytes) and message.startswith(b"c")


def test_a_clients_forwarded_headers_are_not_believed_by_default(service: Service) -> None:
    """FORWARDED_ALLOW_IPS names the proxies; by default only this host (#25.8): a client's own
    X-Forwarded-Proto does not make its request https, and SCRIPT_NAME never moves our URLs.
    The client connects from 127.0.0.2: another address than the one trusted by default."""
    page = raw_request(
        service.url,
        "GET /dashboard/calls HTTP/1.1\r\nHost: x\r\nSCRIPT_NAME: /evil\r\nX-Forwarded-Proto: https\r\n"
        "Connection: close\r\n\r\n",
        source="127.0.0.2",
    )
    assert re.search(r"(?im)^location: /login\?next=", page), page[:300]
    port = service.url.rsplit(":", 1)[1]
    upgrade = raw_request(  # an https origin is this service's own only if the request was https
        service.url,
        f"GET /dashboard/calls/x/listen HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Origin: https://127.0.0.1:{port}\r\nX-Forwarded-Proto: https\r\n\r\n",
        source="127.0.0.2",
    )
    assert upgrade.startswith("HTTP/1.1 403"), upgrade[:200]


def test_an_open_listen_in_ends_when_its_sign_in_does(service: Service) -> None:
    """#25.4: the socket outlives the request that checked the session; it asks again (every 10 s)."""
    call_id, platform = live_call(service.url)
    session = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(f"{service.url}/login", timeout=5).text)
    session.post(
        f"{service.url}/login", data={"username": "ops", "password": PASSWORD, "csrf_token": token.group(1)}, timeout=10
    )
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    try:
        listener = listen(service.url, call_id, cookie, service.url, platform)
        assert listener.receive(timeout=5) == '{"rate": 8000}'
        page = session.get(f"{service.url}/dashboard/calls", timeout=5).text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        assert session.post(f"{service.url}/logout", data={"csrf_token": csrf}, timeout=5).status_code == 200
        deadline = time.monotonic() + 15
        while listener.connected and time.monotonic() < deadline:
            platform.send(FRAME)  # the call goes on; its audio reaches the listener until the check
            _audio(listener)
        assert not listener.connected and listener.close_reason == 1008
    finally:
        platform.close()


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def worker_pid(service: Service) -> int:
    children = Path(f"/proc/{service.master_pid}/task/{service.master_pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def test_what_a_page_sends_to_listen_in_is_not_kept(service: Service) -> None:
    """#25.5: 24 MB of small messages from a signed-in page leave the worker's memory where it was."""
    call_id, platform = live_call(service.url)
    cookie = signed_in(service.url)
    pid = worker_pid(service)
    try:
        listener = listen(service.url, call_id, cookie, service.url, platform)
        assert listener.receive(timeout=5) == '{"rate": 8000}'
        before = rss_kb(pid)
        chunk = b"x" * 4000
        for n in range(6000):
            listener.send(chunk)
            if n % 500 == 0:
                platform.send(FRAME)  # keeps the call live
        time.sleep(0.5)
        grown = (rss_kb(pid) - before) / 1024
        assert listener.connected
        listener.close()
    finally:
        platform.close()
    print(f"worker grew by {grown:.1f} MB")
    assert grown < 12, f"the worker grew by {grown:.1f} MB"
