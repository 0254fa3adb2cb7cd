"""A call that ends while vosk is inside its recogniser, or while its audio waits for a pool thread, gives the
recogniser back once nothing will touch it.

It used to be dropped in both cases: a free-speech recogniser costs ~2.7 s of CPU to make again, and 9-15 of 25
free-speech calls hanging up together in a bench burst lost theirs (the next step made them again: +30-100% of a
core). Real vosk (the Korean model) in gevent's real thread pool, in a patched process of its own, as the
service runs it, with one pool thread (``STT_THREADS=1``) so that calls queue for it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT
from tests.support.korean import needs_model

SCRIPT = """
from gevent import monkey; monkey.patch_all()
import time
from pathlib import Path
import gevent
from emulator.script import speak
from streams.speech.stt import SpeechModels, find_models
from streams.turns.rules import TurnDetector
from streams.voice.hearing import Hearing

gevent.get_hub().threadpool.maxsize = 1
models = SpeechModels(find_models("", Path("/nonexistent")))
models.load_now()
model = models.model_for("ko")
key = models.key(model, 8000, None)
speech = speak("네, 알겠습니다. 더 필요하신 것이 있나요?", "ko", 175, 8000) * 2  # ~5 s: vosk is inside a while
for round in range(2):
    hearings, tasks = [], []
    for _ in range(3):
        hearing = Hearing(
            TurnDetector(8000), models.recognizer(model, 8000, None), models, 1600,
            on_speech=lambda: None, on_partial=lambda text: None, on_turn=lambda heard: None, on_drop=lambda: None,
        )
        hearings.append(hearing)
        tasks.append(gevent.spawn(hearing.run))
        hearing._queue.put(("audio", speech, time.monotonic()))
    gevent.sleep(0.05)
    taken = sum(h._queue.qsize() == 0 for h in hearings)  # the first is decoding, the others wait for the thread
    for hearing in hearings:
        hearing.closing = True
    gevent.killall(tasks)  # as a call's end kills its tasks
    deadline = time.monotonic() + 20
    while models.counts(key) != (3, 0) and time.monotonic() < deadline:
        gevent.sleep(0.05)
    print(taken, *models.counts(key), flush=True)
print(models.pool_stats["created"])
"""


@needs_model
def test_recognisers_of_calls_ending_mid_decode_go_back_to_the_pool() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    *rounds, created = done.stdout.split("\n")[:-1]
    for line in rounds:
        taken, idle, in_use = map(int, line.split())
        assert taken == 3  # every call's audio was taken for vosk: one decoding, two waiting for the pool thread
        assert (idle, in_use) == (3, 0)  # every recogniser given back, when vosk was done with it
    assert int(created) == 3  # so the second round's calls got the first round's, warm
