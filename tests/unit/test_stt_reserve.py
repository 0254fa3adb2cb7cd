"""The warm free-speech reserve (#21.5): made on a low-priority thread, up to its target, refilled, memory-bound.

Real vosk (the Korean model), a real operating-system thread; the service-level test with calls is
tests/service/test_warmup.py."""

from __future__ import annotations

import os
import time

import pytest

from emulator.script import speak
from streams.speech.reserve import Reserve
from streams.speech.stt import SpeechModels
from tests.support.korean import SEARCH, needs_model

SPEECH = [speak(text, "ko", 175, 8000) for text in ("안녕하세요.", "네, 알겠습니다.")]


def until(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if got := check():
            return got
        time.sleep(0.05)
    raise AssertionError("not within the time allowed")


@pytest.fixture(scope="module")
def models() -> SpeechModels:
    loaded = SpeechModels(SEARCH)
    loaded.load_now()
    return loaded


@needs_model
def test_the_reserve_fills_to_its_target_at_nice_19_and_keeps_a_spare_beyond_the_calls(models) -> None:
    model = models.model_for("ko")
    reserve = Reserve(models, target=2, spare=1, turns=2)
    reserve.keep(model, 8000, SPEECH)
    key = models.key(model, 8000, None)
    reserve.start()
    try:
        until(lambda: models.counts(key) == (2, 0))
        assert reserve.priority == 19 and reserve.made == 2
        assert os.getpriority(os.PRIO_PROCESS, 0) == 0  # the thread's priority, not the process's
        taken = [models.recognizer(model, 8000, None) for _ in range(2)]  # two calls take them, warm
        assert models.pool_stats["created"] == 0
        until(lambda: models.counts(key) == (1, 2))  # one spare made beyond the two in use
        assert reserve.made == 3
        for recognizer in taken:  # the calls end: back to the pool, nothing more is made
            models.release(recognizer)
        time.sleep(0.6)
        assert models.counts(key) == (3, 0) and reserve.made == 3
    finally:
        reserve.stop()


@needs_model
def test_no_memory_no_recognisers_and_the_reason_is_shown(models) -> None:
    model = models.model_for("ko")
    reserve = Reserve(models, target=5, spare=0, turns=1, room=lambda: False)
    reserve.keep(model, 16000, SPEECH)  # another kind than the test above, so its pool is empty
    reserve.start()
    try:
        until(lambda: reserve.held_back == "memory", timeout=5)
        assert reserve.made == 0 and models.counts(models.key(model, 16000, None)) == (0, 0)
        assert reserve.describe()["held_back"] == "memory"
    finally:
        reserve.stop()


@needs_model
def test_a_target_of_zero_starts_no_thread(models) -> None:
    reserve = Reserve(models, target=0, spare=0)
    reserve.keep(models.model_for("ko"), 8000, SPEECH)
    reserve.start()
    assert reserve.priority is None and reserve.made == 0


def test_stt_warm_free_is_auto_or_a_count() -> None:
    from app.config import load_config
    from app.environment import ConfigError

    assert load_config({})["STT_WARM_FREE"] is None and load_config({})["STT_WARM_SPARE"] == 2
    assert load_config({"STT_WARM_FREE": " Auto "})["STT_WARM_FREE"] is None
    assert load_config({"STT_WARM_FREE": "12"})["STT_WARM_FREE"] == 12
    for bad in ("-1", "lots", "1.5"):
        with pytest.raises(ConfigError, match="STT_WARM_FREE must be auto or a whole number"):
            load_config({"STT_WARM_FREE": bad})
