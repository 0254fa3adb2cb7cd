"""The TTS pool's real pyttsx3 workers (espeak-ng) under CPU load: every line whole, every time (issue 26).

pyttsx3's espeak driver makes the audio on espeak-ng's own thread; a request that
started while that thread was still delivering the previous one lost audio. Under
load, with two voices in turn, one line in thirty came back empty and more were cut
short; such a line, cached at warm-up, was a mute reply for every call. No mocks: real
worker processes, two busy processes beside them (bounded, stopped by the test).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from streams.speech.tts import TTSPool

# Two voices in turn, as warm-up goes from one agent's lines to another's: the switch is where audio went missing.
LINES = [
    ("안녕하세요.", "ko"),
    ("네, 알겠습니다.", "ko"),
    ("Hello there.", "en-us"),
    ("아니요라고 하셨습니다.", "ko"),
    ("Goodbye.", "en-us"),
]

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@contextmanager
def busy_cores(n: int = 2, seconds: int = 60) -> Iterator[None]:
    """``n`` processes spinning on the CPU for at most ``seconds`` (the test stops them sooner)."""
    spin = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=5)


def test_fresh_workers_under_load_give_every_line_whole() -> None:
    lengths: dict[str, list[int]] = defaultdict(list)
    with busy_cores():
        for _ in range(20):  # a fresh worker each round, as after a start
            pool = TTSPool(size=1, timeout=10, cache_size=0)
            try:
                for text, voice in LINES * 2:
                    lengths[text].append(len(pool.synthesize(text, voice, 160, 22050)))
            finally:
                pool.close()
    for text, sizes in lengths.items():
        usual = statistics.median(sizes)
        wrong = [s for s in sizes if abs(s - usual) > 0.02 * usual]  # espeak-ng itself varies by a few samples
        assert usual > 0 and not wrong, f"{text!r}: usual {usual} bytes, but {wrong} in {len(sizes)} tries"
