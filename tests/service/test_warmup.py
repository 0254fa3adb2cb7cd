"""No cold first call: at start the service fills the TTS cache and warms recognisers; /healthz says warming."""

from __future__ import annotations

import time
from pathlib import Path

import requests
import yaml

from emulator.service import running_service
from emulator.wsclient import connect
from tests.conftest import base_config
from tests.support.streaming import stream_url, wait_for

FRAME = b"\x00\x00" * 160
AGENT = {
    "name": "warm",
    "numbers": ["918000000008"],
    "language": "ko",
    "voice": "ko",
    "greeting": "안녕하세요. 네 또는 아니요라고 말씀하세요.",
    "intents": [{"name": "yes", "phrases": ["네"], "reply": "네, 알겠습니다."}],
}


def test_the_first_call_finds_its_greeting_and_recogniser_ready(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "warm.yaml").write_text(yaml.safe_dump(AGENT, allow_unicode=True))
    config = base_config(
        tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", AGENTS_DIR=str(agents), DEFAULT_AGENT="warm"
    )
    with running_service(config) as url:
        seen = []

        def warmed() -> dict | None:
            health = requests.get(f"{url}/healthz", timeout=5).json()
            seen.append(health["status"])
            return health if health["status"] != "warming" else None

        health = wait_for(warmed, timeout=60, interval=0.1)
        assert seen[0] == "warming" and health["status"] == "ok", seen
        # greeting (2 sentences) + reply + fallback, goodbye, hold, shutdown lines, synthesised before any call
        assert health["tts"]["requests"] >= 7 and health["stt"]["recognizers"]["created"] == 1
        ws = connect(stream_url(url, to="918000000008"))
        opened = time.monotonic()
        ws.send(FRAME)
        while (message := ws.receive(timeout=5)) is not None and "streamAudio" not in message:
            pass
        greeted_ms = (time.monotonic() - opened) * 1000
        after = requests.get(f"{url}/healthz", timeout=5).json()
        ws.close()
        assert message is not None, "no greeting audio"
        assert after["tts"]["cache_hits"] >= 2  # both greeting sentences came from the cache
        recognizers = wait_for(lambda: requests.get(f"{url}/healthz", timeout=5).json()["stt"]["recognizers"])
        assert recognizers["reused"] >= 1 and recognizers["created"] == 1  # the call got the warm one
        print(f"first call greeted {greeted_ms:.0f} ms after its socket opened")


def test_free_speech_reserve_is_made_in_idle_time_and_refilled(tmp_path: Path) -> None:
    """A new free-speech recogniser costs ~1 s of CPU in its first turns (#21.5): the warm-up makes STT_WARM_FREE
    before the node says it is ready, calls are handed those, and when calls hold them all the reserve (a nice-19
    thread) makes STT_WARM_SPARE more while the machine is quiet."""
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "warm.yaml").write_text(yaml.safe_dump({**AGENT, "grammar": False}, allow_unicode=True))
    config = base_config(
        tmp_path,
        "http://127.0.0.1:1",
        PUBLIC_URL="auto",
        AGENTS_DIR=str(agents),
        DEFAULT_AGENT="warm",
        STT_WARM_FREE=3,
        STT_WARM_SPARE=1,
    )

    def stt() -> dict:
        return requests.get(f"{url}/healthz", timeout=5).json()["stt"]

    with running_service(config) as url:
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=5).json()["status"] != "warming", timeout=90)
        reserve = stt()["reserve"]
        assert reserve["8000 Hz"]["idle"] == 3 and reserve["made"] == 3 and reserve["target"] == 3
        assert wait_for(lambda: stt()["reserve"]["nice"]) == 19  # its thread, once started, runs at the lowest
        assert stt()["recognizers"] == {"created": 0, "reused": 0, "stocked": 3}
        sockets = [connect(stream_url(url, to="918000000008")) for _ in range(3)]
        for ws in sockets:
            ws.send(FRAME)
        recognizers = wait_for(lambda: (r := stt()["recognizers"])["reused"] >= 3 and r)
        assert recognizers["created"] == 0  # three calls at once, none waited for a new one
        refilled = wait_for(lambda: (r := stt()["reserve"])["8000 Hz"]["idle"] >= 1 and r, timeout=30, interval=0.2)
        assert refilled["8000 Hz"]["in_use"] == 3 and refilled["made"] == 4  # the spare, beyond the three in use
        for ws in sockets:
            ws.close()
