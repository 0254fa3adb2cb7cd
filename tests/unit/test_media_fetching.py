"""play fetches URLs only from public hosts (or MEDIA_HOSTS), bounded; ffmpeg never follows a playlist."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from app.live.fetching import FetchPolicy, fetch, is_public, media_fetcher
from streams.audio import to_l16, tone, wav_bytes
from streams.events import CallEvent, Played, PlayFailed
from streams.session.media_files import MediaError
from tests.support.memory_call import MemoryCall
from tests.support.memsocket import settle
from tests.support.processes import http_server

ROOT = Path(__file__).resolve().parents[2]
WAV = wav_bytes(tone(8000, 300), 8000)


class MediaHost:
    """A real HTTP server on 127.0.0.1 that records every request it gets."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.routes: dict[str, tuple[int, bytes, dict[str, str]]] = {"/x.wav": (200, WAV, {})}
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def media_host(tls: Any = None) -> Iterator[MediaHost]:
    """``tls``: an ssl.SSLContext to serve HTTPS with."""
    host = MediaHost()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            host.seen.append((self.path, self.headers.get("Host", "")))
            status, body, headers = host.routes.get(self.path, (404, b"no", {}))
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with http_server(Handler, tls) as server:
        host.port = server.server_address[1]
        yield host


@pytest.fixture
def host() -> Iterator[MediaHost]:
    with media_host() as running:
        yield running


def pinned(name: str, address: str = "127.0.0.1"):
    """A resolver that knows one name (no DNS needed in tests)."""

    def resolver(host: str, port: int) -> list[str]:
        if host == name:
            return [address]
        return [host] if host.replace(".", "").isdigit() else []

    return resolver


# -- the policy ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, public",
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("ff02::1", False),
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        # IPv4 inside IPv6 (#25.10): the embedded address decides
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b:1::a9fe:a9fe", False),  # local-use NAT64 of 169.254.169.254
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("2002:808:808::1", True),
        ("::10.0.0.1", False),  # IPv4-compatible
        ("::127.0.0.1", False),
        ("::169.254.169.254", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("2001:0:a00:1::1", False),  # Teredo with a private server
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),  # Teredo whose client is 10.0.0.1
    ],
)
def test_only_globally_routable_addresses_are_public(address, public) -> None:
    assert is_public(address) is public


def test_a_loopback_url_is_refused_and_nothing_is_fetched(host) -> None:
    for url in (host.url("/x.wav"), f"http://localhost:{host.port}/x.wav"):
        with pytest.raises(MediaError, match="not a public host"):
            fetch(url, FetchPolicy.from_config({}))
    assert host.seen == []


def test_a_host_in_media_hosts_is_fetched(host) -> None:
    assert media_fetcher({"MEDIA_HOSTS": ("127.0.0.1",)})(host.url("/x.wav")) == WAV
    assert [path for path, _ in host.seen] == ["/x.wav"]


def test_the_connection_goes_to_the_address_that_was_checked(host) -> None:
    policy = FetchPolicy(allowed_hosts=frozenset({"media.test"}), resolver=pinned("media.test"))
    assert fetch(f"http://media.test:{host.port}/x.wav", policy) == WAV
    assert host.seen == [("/x.wav", f"media.test:{host.port}")]  # resolved once, name kept in Host


def test_a_name_that_resolves_to_a_private_address_is_refused(host) -> None:
    policy = FetchPolicy(resolver=pinned("rebind.test", "127.0.0.1"))
    with pytest.raises(MediaError, match="not a public host"):
        fetch(f"http://rebind.test:{host.port}/x.wav", policy)
    assert host.seen == []


def test_redirects_are_checked_like_the_first_url(host) -> None:
    host.routes["/go"] = (302, b"", {"Location": host.url("/x.wav")})
    policy = FetchPolicy(allowed_hosts=frozenset({"media.test"}), resolver=pinned("media.test"))
    with pytest.raises(MediaError, match="127.0.0.1 is not a public host"):
        fetch(f"http://media.test:{host.port}/go", policy)
    assert [path for path, _ in host.seen] == ["/go"]  # the redirect target was never asked


def test_size_and_scheme_are_bounded(host) -> None:
    with pytest.raises(MediaError, match="larger than"):
        fetch(host.url("/x.wav"), FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), max_bytes=1024))
    for url in ("ftp://127.0.0.1/x.wav", "file:///etc/passwd", "gopher://127.0.0.1/"):
        with pytest.raises(MediaError, match="only http"):
            fetch(url, FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"})))


# -- ffmpeg --------------------------------------------------------------------------------------------------


def playlists(url: str) -> list[bytes]:
    return [
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{url}\n#EXT-X-ENDLIST\n".encode(),
        f"#EXTM3U\n#EXTINF:1,x\n{url}\n".encode(),
        f"ffconcat version 1.0\nfile '{url}'\n".encode(),
    ]


@pytest.mark.parametrize("index", range(3))
def test_ffmpeg_never_follows_a_url_inside_a_playlist(host, index) -> None:
    with pytest.raises(ValueError):
        to_l16(playlists(host.url("/x.wav"))[index], 8000)
    for source_format in ("hls", "concat"):
        with pytest.raises(ValueError):
            to_l16(playlists(host.url("/x.wav"))[index], 8000, source_format)
    assert host.seen == []


def test_ffmpeg_still_decodes_real_audio_from_the_pipe() -> None:
    import subprocess

    mp3 = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "s16le", "-ar", "8000", "-ac", "1"]
        + ["-i", "pipe:0", "-f", "mp3", "pipe:1"],
        input=tone(8000, 500),
        capture_output=True,
        check=True,
    ).stdout
    assert 7000 < len(to_l16(mp3, 8000)) < 12000


# -- through a live call --------------------------------------------------------------------------------------


class PlayingCall(MemoryCall):
    """A live call that fetches media as the service would (``media_fetcher`` with ``config``)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__({}, fetch=media_fetcher(config))
        self.live()

    def play(self, url: str) -> CallEvent:
        self.call.handle("play", {"file": url}, "test")
        for _ in range(200):
            done = [e for e in self.events if isinstance(e, (Played, PlayFailed))]
            if done:
                return done[0]
            settle(0.02)
        raise AssertionError("the play neither succeeded nor failed")


@pytest.fixture
def playing():
    made: list[PlayingCall] = []

    def make(**config: Any) -> PlayingCall:
        made.append(PlayingCall(config))
        return made[-1]

    yield make
    for call in made:
        call.close()


def test_play_of_a_loopback_url_fails_the_play_and_fetches_nothing(host, playing) -> None:
    result = playing().play(host.url("/x.wav"))
    assert isinstance(result, PlayFailed) and "not a public host" in result.error
    assert host.seen == []


def test_play_of_a_url_on_a_listed_host_is_fetched_and_played(host, playing) -> None:
    result = playing(MEDIA_HOSTS=("127.0.0.1",)).play(host.url("/x.wav"))
    assert isinstance(result, Played) and result.ms == 300
    assert [path for path, _ in host.seen] == ["/x.wav"]


def test_play_of_a_playlist_on_a_listed_host_does_not_follow_it(host, playing) -> None:
    host.routes["/list.m3u8"] = (200, playlists(host.url("/x.wav"))[0], {})
    result = playing(MEDIA_HOSTS=("127.0.0.1",)).play(host.url("/list.m3u8"))
    assert isinstance(result, PlayFailed) and result.error == "the file is not audio we can play"
    assert [path for path, _ in host.seen] == ["/list.m3u8"]


def self_signed(folder: Path, name: str) -> tuple[str, str]:
    import subprocess

    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}"]
        + ["-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def test_https_connects_to_the_checked_address_and_still_verifies_the_name(tmp_path) -> None:
    import ssl

    cert, key = self_signed(tmp_path, "media.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with media_host(tls=context) as host:
        trusting = FetchPolicy(
            allowed_hosts=frozenset({"media.test", "other.test"}),
            resolver=lambda name, port: ["127.0.0.1"],
            ca_certs=cert,
        )
        assert fetch(f"https://media.test:{host.port}/x.wav", trusting) == WAV
        assert host.seen == [("/x.wav", f"media.test:{host.port}")]
        with pytest.raises(MediaError, match="could not be fetched"):  # the certificate is not for this name
            fetch(f"https://other.test:{host.port}/x.wav", trusting)
        assert len(host.seen) == 1


def test_a_refused_connection_is_reported_as_not_fetched_not_as_slow() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(MediaError, match="could not be fetched"):
        fetch(f"http://127.0.0.1:{port}/x.wav", FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"})))


def _wav_header(rate: int, channels: int, width: int, frames: int) -> bytes:
    import wave as wavefile
    from io import BytesIO

    buffer = BytesIO()
    with wavefile.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(b"\x01" * width * channels * frames)
    return buffer.getvalue()


@pytest.mark.parametrize(("rate", "channels"), [(1, 1), (7999, 1), (48001, 1), (8000, 6), (192000, 2)])
def test_implausible_formats_are_refused_before_decoding(rate: int, channels: int) -> None:
    from streams.audio import AudioFormatError

    with pytest.raises(AudioFormatError):
        to_l16(_wav_header(rate, channels, 2, 100), 8000)


def test_what_a_file_decodes_to_is_bounded_by_time_not_by_its_size() -> None:
    ten_seconds = _wav_header(8000, 1, 2, 80_000)
    assert len(to_l16(ten_seconds, 8000, max_ms=1000)) == 16_000
    eight_bit = _wav_header(8000, 1, 1, 80_000)  # not 16-bit PCM: ffmpeg decodes it, -t bounds it
    assert 15_000 <= len(to_l16(eight_bit, 8000, max_ms=1000)) <= 16_000


@pytest.mark.parametrize("step", [0.2, 0.9])
def test_a_trickling_server_cannot_outlive_the_timeout(step: float) -> None:
    """One byte each ``step`` seconds: the whole fetch still ends at MEDIA_TIMEOUT (#25.9)."""
    import threading
    import time

    stop = threading.Event()

    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(60):  # at most 60 steps, whatever the client does
                if stop.wait(step):
                    return
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return

        def log_message(self, *args: Any) -> None:
            pass

    with http_server(Trickle) as server:
        policy = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), timeout=1.5)
        started = time.monotonic()
        try:
            with pytest.raises(MediaError, match="too long"):
                fetch(f"http://127.0.0.1:{server.server_address[1]}/slow.wav", policy)
            assert time.monotonic() - started < 1.5 + 0.5
        finally:
            stop.set()


def test_under_gevent_a_status_line_sent_a_byte_at_a_time_cannot_outlive_the_timeout() -> None:
    """The service's way (monkey-patched, in a greenlet): the deadline holds inside the headers too."""
    import subprocess
    import sys
    import threading

    stop = threading.Event()

    class TrickleHead(BaseHTTPRequestHandler):
        def handle_one_request(self) -> None:
            self.rfile.readline()
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n" * 5:
                if stop.wait(0.2):
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return

    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import sys, time\n"
        "from app.live.fetching import FetchPolicy, fetch\n"
        "from streams.session.media_files import MediaError\n"
        "started = time.monotonic()\n"
        "try:\n"
        "    fetch(sys.argv[1], FetchPolicy(allowed_hosts=frozenset({'127.0.0.1'}), timeout=1.5))\n"
        "except MediaError as error:\n"
        "    print(error, round(time.monotonic() - started, 2))\n"
    )
    with http_server(TrickleHead) as server:
        try:
            done = subprocess.run(
                [sys.executable, "-c", script, f"http://127.0.0.1:{server.server_address[1]}/x.wav"],
                cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
        finally:
            stop.set()
    message, _, took = done.stdout.strip().rpartition(" ")
    assert message == "the file took too long to fetch", done.stdout + done.stderr
    assert float(took) < 1.5 + 0.5
