"""No PUBLIC_URL (#22.1): stream URLs use the request's origin, with the proxy's scheme only when it is trusted."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from emulator.service import service_process
from tests.conftest import base_config, hook_url

ANSWER = {"from": "919876543210", "to": "919111111111"}


def _stream_url(url: str, n: int, **headers: str) -> str:
    body = {**ANSWER, "cmiuuid": f"conv-{n}"}
    answer = requests.post(f"{url}{hook_url('answer')}", json=body, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return next(a["ws_url"] for a in answer.json() if a["action"] == "stream")


@pytest.mark.parametrize("trusted, scheme", [("127.0.0.1", "wss"), ("10.9.9.9", "ws")])
def test_stream_urls_follow_the_request_and_the_trusted_proxy(tmp_path: Path, trusted: str, scheme: str) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="", VOICE_ENABLED=0, FORWARDED_ALLOW_IPS=trusted)
    with service_process(config, startup=20) as service:
        forwarded = {"Host": "calls.example.com", "X-Forwarded-Proto": "https"}
        assert _stream_url(service.url, 1, **forwarded).startswith(f"{scheme}://calls.example.com/stream/")
        port = service.url.rsplit(":", 1)[1]
        assert _stream_url(service.url, 2).startswith(f"ws://127.0.0.1:{port}/stream/")
        logged = Path(service.log_path).read_text(errors="replace")
        assert logged.count("PUBLIC_URL is not set") == 1, logged  # said once, not per call
