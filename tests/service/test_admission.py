"""A node whose event loop really stalls turns calls away and takes them again after (#21.1), and its live
call loses no caller frame to the stall (#21.2): a real gunicorn gevent worker, a real stream socket."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import requests
from websockets.sync.client import connect

from emulator.service import service_process
from tests.conftest import API_KEY, base_config
from tests.support.streaming import answer, call_id_of, get_call, wait_for

FRAME = b"\x01\x00" * 160  # 20 ms at 8 kHz
BUSY = "All our lines are busy"


def _speak(ws_url: str, seconds: float, sent: list[int]) -> None:
    """A caller: a frame every 20 ms, on the real-time schedule, whatever the service is doing."""
    with connect(ws_url, open_timeout=5, close_timeout=2) as ws:
        began = time.monotonic()
        for n in range(int(seconds / 0.02)):
            time.sleep(max(0.0, began + n * 0.02 - time.monotonic()))
            ws.send(FRAME)
            sent[0] += 1


def test_a_stalled_node_answers_busy_takes_calls_again_and_its_live_call_keeps_every_frame(tmp_path: Path) -> None:
    config = base_config(
        tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0, ADMIT_HIGH=0.8, ADMIT_WINDOW=1.5
    )
    with service_process(config, app="tests.support.stalling_app:app") as service:
        url = service.url
        ws_url = next(a["ws_url"] for a in answer(url, cmiuuid="adm-live") if a["action"] == "stream")
        sent = [0]
        caller = threading.Thread(target=_speak, args=(ws_url, 8.0, sent), daemon=True)
        caller.start()
        wait_for(lambda: get_call(url, call_id_of(ws_url))["live"])

        requests.post(f"{url}/test/stall", params={"seconds": 3}, timeout=10)  # the loop blocked for 3 s
        assert wait_for(lambda: requests.get(f"{url}/readyz", timeout=5).status_code == 503, timeout=3)
        busy = answer(url, cmiuuid="adm-busy")
        assert BUSY in busy[0]["text"] and busy[-1]["action"] == "hangup"
        ready = requests.get(f"{url}/readyz", timeout=5).json()
        assert ready["reason"] == "overloaded" and ready["load"]["refused"] == {"load": 1}

        assert wait_for(lambda: requests.get(f"{url}/readyz", timeout=5).status_code == 200, timeout=10)
        again = answer(url, cmiuuid="adm-again")
        assert again[-1]["action"] == "stream"
        metrics = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5).text
        assert 'callstream_calls_refused_total{reason="load"} 1.0' in metrics

        caller.join(timeout=20)
        call = wait_for(lambda: (c := get_call(url, call_id_of(ws_url)))["state"] == "ended" and c, timeout=10)
    assert call["stats"]["frames_in"] == sent[0] == 400 and call["stats"]["dropped"] == {}  # none lost to the stall
