"""A small file that decodes into a huge one (#25.2): the worker stays small and the call goes on.

The bomb: a 20 KB WAV whose header claims 1 Hz. Resampled to the call's 8 kHz it was 160 MB of
PCM (a 60 KB one was 480 MB), built on the event loop.
"""

from __future__ import annotations

import io
import time
import wave
from base64 import b64decode
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psutil

from emulator.service import service_process
from emulator.wsclient import connect
from tests.conftest import base_config
from tests.support.processes import http_server
from tests.support.streaming import act, call_id_of, drain, get_call, runtime, stream_url, wait_for

FRAME = b"\x01\x00" * 160


def _wav(rate: int, frames: int, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x10\x00" * frames * channels)
    return buffer.getvalue()


FILES = {"/one-hertz.wav": _wav(1, 10_000), "/fine.wav": _wav(8000, 8000)}


class Files(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = FILES.get(self.path, b"")
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _is_audio(message: object) -> bool:
    return isinstance(message, dict) and message.get("type") == "streamAudio"


def _worker_rss(master: int) -> int:
    (worker,) = psutil.Process(master).children()
    return worker.memory_info().rss


def _timeline_kinds(service: str, call_id: str) -> list[str]:
    return [entry.get("kind", "") for entry in get_call(service, call_id).get("timeline", [])]


def test_a_tiny_wav_claiming_one_hertz_neither_grows_the_worker_nor_ends_the_call(tmp_path: Path) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0, MEDIA_HOSTS="127.0.0.1")
    with http_server(Files) as files, service_process(config) as service:
        base = f"http://127.0.0.1:{files.server_address[1]}"
        url = stream_url(service.url)
        call_id = call_id_of(url)
        ws = connect(url)
        try:
            ws.send(FRAME)
            wait_for(lambda: runtime(service.url)["sessions"] == 1)
            before = _worker_rss(service.proc.pid)
            assert act(service.url, call_id, action="play", file=f"{base}/one-hertz.wav").status_code == 200
            wait_for(lambda: "play.failed" in _timeline_kinds(service.url, call_id), timeout=20)
            grown = _worker_rss(service.proc.pid) - before
            assert grown < 40 * 1024 * 1024, f"the worker grew by {grown / 1e6:.0f} MB"
            failed = [e for e in get_call(service.url, call_id)["timeline"] if e.get("kind") == "play.failed"]
            assert "1 Hz" in str(failed), failed
            # the call goes on: a proper file still plays, and the socket is open
            assert act(service.url, call_id, action="play", file=f"{base}/fine.wav").status_code == 200
            deadline = time.monotonic() + 10
            heard = 0
            while time.monotonic() < deadline and heard < 320 * 20:
                ws.send(FRAME)
                heard += sum(len(b64decode(m["data"]["audioData"])) for m in drain(ws, 0.02) if _is_audio(m))
            assert heard >= 320 * 20 and runtime(service.url)["sessions"] == 1
        finally:
            ws.close()
