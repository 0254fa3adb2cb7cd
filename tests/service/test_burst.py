"""Calls that hear but cannot answer (issue 26): a burst on a fresh start, a pool that must not leak, a stuck reply.

Driven through the real service (gunicorn, gevent) by a client that is not the project's emulator: asyncio
and the ``websockets`` library with its defaults (permessage-deflate offered), paced at real time, speaking
Korean made by espeak-ng. The faults are outside the code under test: a call hung up mid-synthesis, TTS
worker processes frozen with SIGSTOP.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import signal
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
import websockets

from emulator.script import speak
from emulator.service import service_process
from tests.conftest import base_config
from tests.support.streaming import (
    HEADERS,
    act,
    agents_folder,
    answer,
    call_id_of,
    demo_ko,
    get_call,
    wait_for,
    wait_until_hearing,
)

RATE = 8000
FRAME = 320  # 20 ms of L16 at 8 kHz
SILENCE = b"\0" * FRAME


@contextmanager
def fresh_service(tmp: Path, **config: Any):
    agents = tmp / "agents"
    agents.mkdir()
    # demo-ko without its DTMF menu: the bot greets at once and answers 네 / 아니요 with fixed lines
    agents_folder(
        agents, demo_ko(name="burst-ko", numbers=["918000000077"], max_misses=1000, dtmf_menu=None), shipped=False
    )
    settings = base_config(tmp, "http://127.0.0.1:1", PUBLIC_URL="auto", AGENTS_DIR=str(agents), **config)
    settings.update(DEFAULT_AGENT="burst-ko")
    with service_process(settings, startup=60) as svc:
        wait_until_hearing(svc.url)
        wait_for(lambda: requests.get(f"{svc.url}/healthz", timeout=5).json()["status"] != "warming", timeout=60)
        yield svc


def metric(url: str, name: str) -> float:
    text = requests.get(f"{url}/metrics", headers=HEADERS, timeout=5).text
    found = re.search(rf"^{name}(?:_total)? ([0-9.e+]+)$", text, re.M)
    assert found, f"{name} is not in /metrics"
    return float(found.group(1))


def tts_workers(svc: Any) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(svc.master_pid).children(recursive=True)
        if "streams.speech.tts_worker" in " ".join(p.cmdline())
    ]


async def caller(
    ws_url: str, plan: list[bytes], log: list[float], on_frame: Callable[[int], None] | None = None
) -> float:
    """Stream ``plan`` at real time; record when each streamAudio message arrives; return the start time.

    ``on_frame(n)`` runs before frame ``n`` is sent (a fault to inject at a moment of the call)."""
    async with websockets.connect(ws_url, max_size=None, open_timeout=20) as ws:  # deflate offered (the default)
        started = time.monotonic()

        async def hear() -> None:
            try:
                async for message in ws:
                    if isinstance(message, str) and '"streamAudio"' in message:
                        log.append(time.monotonic() - started)
            except websockets.ConnectionClosed:
                pass

        reader = asyncio.create_task(hear())
        pcm = b"".join(plan)
        try:
            for n, at in enumerate(range(0, len(pcm), FRAME)):
                if on_frame is not None:
                    on_frame(n)
                delay = started + n * 0.02 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await ws.send(pcm[at : at + FRAME].ljust(FRAME, b"\0"))
            await asyncio.sleep(0.3)
        except websockets.ConnectionClosed:
            pass
        reader.cancel()
        return started


def silence(seconds: float) -> bytes:
    return SILENCE * int(seconds / 0.02)


def test_a_burst_of_calls_on_a_fresh_start_answers_every_turn(tmp_path: Path) -> None:
    """20 calls at once on a just-started service, each barging in on its greeting, then speaking twice."""
    calls, yes, no = 20, speak("네", "ko", 175, RATE), speak("아니요", "ko", 175, RATE)
    with fresh_service(tmp_path, MAX_CALLS=calls) as svc:
        urls = [next(a["ws_url"] for a in answer(svc.url) if a["action"] == "stream") for _ in range(calls)]
        plans, ends = [], []
        for _ in urls:
            plan = [silence(random.uniform(1.5, 2.5)), yes, silence(3.0), no, silence(3.0)]
            first = len(plan[0]) / (2 * RATE)
            ends.append([first + len(yes) / (2 * RATE), first + (len(yes) + len(plan[2]) + len(no)) / (2 * RATE)])
            plans.append(plan)
        logs: list[list[float]] = [[] for _ in urls]

        async def burst() -> None:
            await asyncio.wait_for(
                asyncio.gather(*(caller(u, p, g) for u, p, g in zip(urls, plans, logs, strict=False))), 60
            )

        asyncio.run(burst())
        unanswered = [
            (call_id_of(url), n)
            for url, log, spoken in zip(urls, logs, ends, strict=False)
            for n, end in enumerate(spoken)
            if not any(end < t < end + 2.5 for t in log)
        ]
        assert unanswered == [], f"{len(unanswered)} utterances got no reply: {unanswered[:5]}"
        assert metric(svc.url, "callstream_unanswered_turns") == 0
        assert metric(svc.url, "callstream_writer_failures") == 0


def test_a_call_hung_up_mid_synthesis_leaves_the_tts_pool_whole(tmp_path: Path) -> None:
    """Ending a call kills its greenlets; one killed while a TTS worker spoke for it must not take the worker
    along (with one worker, every later line waited for the timeout and the call ended as tts_error)."""
    long_line = (
        "오늘은 날씨가 아주 좋고 바람이 불지 않아서 산책을 하기에 아주 좋은 날이라고 모두가 말하고 있습니다 " * 40
    )
    long_line = long_line[:2000]  # the longest say there is: ~0.4 s of synthesis
    with fresh_service(tmp_path, TTS_WORKERS=1, TTS_TIMEOUT=8) as svc:

        async def first() -> None:
            url = next(a["ws_url"] for a in answer(svc.url) if a["action"] == "stream")
            async with websockets.connect(url, compression=None) as ws:
                for _ in range(50):  # 1 s of silence: live, greeting under way
                    await ws.send(SILENCE)
                    await asyncio.sleep(0.02)
                call_id = call_id_of(url)
                assert (await asyncio.to_thread(act, svc.url, call_id, action="say", text=long_line)).status_code == 200
                await asyncio.sleep(0.02)  # the worker is speaking it now (the call ends 50 ms after hangup)
                assert (await asyncio.to_thread(act, svc.url, call_id, action="hangup")).status_code == 200
                try:
                    async for _ in ws:
                        pass
                except websockets.ConnectionClosed:
                    pass

        asyncio.run(asyncio.wait_for(first(), 30))

        async def second() -> list[float]:
            url = next(a["ws_url"] for a in answer(svc.url) if a["action"] == "stream")
            heard: list[float] = []
            async with websockets.connect(url, compression=None) as ws:
                for _ in range(300):  # 6 s of silence: the greeting plays out
                    await ws.send(SILENCE)
                    await asyncio.sleep(0.02)
                while True:  # what was sent for the greeting
                    try:
                        await asyncio.wait_for(ws.recv(), 0.05)
                    except TimeoutError:
                        break
                said = await asyncio.to_thread(act, svc.url, call_id_of(url), action="say", text="새로운 문장입니다")
                assert said.status_code == 200, said.text
                asked = time.monotonic()
                for _ in range(300):  # up to 6 s at real time
                    await ws.send(SILENCE)
                    try:
                        message = await asyncio.wait_for(ws.recv(), 0.02)
                        if isinstance(message, str) and '"streamAudio"' in message:
                            heard.append(time.monotonic() - asked)
                            break
                    except TimeoutError:
                        pass
                state = (await asyncio.to_thread(get_call, svc.url, call_id_of(url)))["state"]
            assert state == "live", f"the second call is {state}"
            return heard

        heard = asyncio.run(asyncio.wait_for(second(), 40))
        assert heard and heard[0] < 3, "the second call's new line did not play: the TTS pool lost its worker"
        tts = requests.get(f"{svc.url}/healthz", timeout=5).json()["tts"]
        assert tts["restarts"] == 1, tts  # the worker that was speaking for the ended call was replaced


def test_a_reply_that_cannot_start_is_counted_and_ends_the_call(tmp_path: Path) -> None:
    """Freeze the TTS workers (SIGSTOP), then ask for a line that is not cached (a voice switch): the turn is
    heard, its reply cannot play. It must not look healthy: timeline, /metrics, end reason."""
    with fresh_service(tmp_path, TTS_TIMEOUT=60, REPLY_DEADLINE=2) as svc:
        url = next(a["ws_url"] for a in answer(svc.url) if a["action"] == "stream")
        faster = speak("빠르게", "ko", 175, RATE)
        workers = tts_workers(svc)
        assert workers, "no TTS worker process found"
        log: list[float] = []

        def freeze_tts(n: int) -> None:
            if n == 275:  # 5.5 s: the greeting has played
                for worker in workers:
                    os.kill(worker.pid, signal.SIGSTOP)

        plan = [silence(6.0), faster, silence(8.0)]
        try:
            asyncio.run(asyncio.wait_for(caller(url, plan, log, freeze_tts), 40))
        finally:
            for worker in workers:
                if worker.is_running():
                    os.kill(worker.pid, signal.SIGCONT)
        call = wait_for(lambda: (c := get_call(svc.url, call_id_of(url)))["state"] == "ended" and c, timeout=10)
        assert log and min(log) < 5.5, "the greeting did not play"
        assert call["end_reason"] == "reply_failed", call["end_reason"]
        assert [e for e in call["timeline"] if e["kind"] == "turn.unanswered"]
        assert metric(svc.url, "callstream_unanswered_turns") == 1


@pytest.fixture(autouse=True)
def _espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
