"""Idle callers are re-prompted after silence, but a paused stream (no frames at all) is not silence (#20.5)."""

from __future__ import annotations

from streams.voice.idle import IdleRule, IdleWatch

RULE = IdleRule(after=5.0, reprompt="Still there?", max_reprompts=1, goodbye="Bye.")


def frames(watch: IdleWatch, start: float, seconds: float) -> list[tuple[float, str]]:
    """Silent frames every 20 ms from ``start``; what the watch said, and when."""
    said = []
    for n in range(int(seconds / 0.02)):
        now = start + n * 0.02
        what = watch.observe(now, caller_speaking=False, bot_audible=False)
        if what is not None:
            said.append((round(now, 2), what))
    return said


def test_silence_with_frames_is_reprompted_then_said_goodbye() -> None:
    watch = IdleWatch(RULE, 0.0)
    assert frames(watch, 0.0, 11.0) == [(5.0, "reprompt"), (10.0, "goodbye")]


def test_a_paused_stream_sends_no_frames_and_no_limit_fires_while_paused() -> None:
    watch = IdleWatch(RULE, 0.0)
    assert frames(watch, 0.0, 2.0) == []  # 2 s of silence heard
    # paused for 60 s: nothing arrives; when frames come back, only the 2 s before the pause count
    assert frames(watch, 62.0, 2.9) == []
    assert frames(watch, 64.9, 0.2) == [(65.02, "reprompt")]  # 1.98 s before it (the last frame), 3.02 after


def test_speech_after_a_pause_starts_the_count_again() -> None:
    watch = IdleWatch(RULE, 0.0)
    frames(watch, 0.0, 4.0)
    assert watch.observe(30.0, caller_speaking=True, bot_audible=False) is None
    assert frames(watch, 30.02, 4.9) == []


def test_silence_is_counted_only_after_the_bot_stops() -> None:
    """Frames every 20 ms: 5 s of the bot talking, then silence; re-prompted 5 s after the bot stopped, not
    5 s after the call began (moved here from tests/service: it needs no service)."""
    watch = IdleWatch(RULE, 0.0)
    for n in range(250):  # the bot is audible for 5 s
        assert watch.observe(n * 0.02, caller_speaking=False, bot_audible=True) is None
    said = frames(watch, 5.0, 6.0)
    assert said and said[0][1] == "reprompt" and 9.9 < said[0][0] <= 10.1, said
