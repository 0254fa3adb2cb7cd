"""What vosk hears of a turn (#21.4): the speech, its pre-roll and 100 ms of quiet after it; a pause's quiet
only when the caller goes on after it."""

from __future__ import annotations

from streams.turns.rules import TurnDetector, TurnEnded
from streams.voice.hearing import STT_TAIL_MS, Hearing

LOUD = (b"\xff\x3f\x01\xc0") * 80  # 20 ms at 8 kHz, far above the energy VAD's threshold
QUIET = b"\x00\x00" * 160
FRAME_MS = 20


def _hearing() -> Hearing:
    return Hearing(
        TurnDetector(8000),
        None,  # type: ignore[arg-type]  # the recogniser's greenlet is not run: the queue is what it would get
        None,  # type: ignore[arg-type]
        1600,
        on_speech=lambda: None,
        on_partial=lambda text: None,
        on_turn=lambda heard: None,
        on_drop=lambda: None,
    )


def _fed(hearing: Hearing, frames: list[bytes]) -> tuple[list[bytes], list[TurnEnded]]:
    for n, frame in enumerate(frames):
        hearing.feed(frame, 100.0 + n * FRAME_MS / 1000)
    items = [hearing._queue.get_nowait() for _ in range(hearing._queue.qsize())]
    return [i[1] for i in items if i[0] == "audio"], [i[1] for i in items if i[0] == "end"]


def test_the_hangover_past_the_tail_is_not_fed_to_vosk() -> None:
    hearing = _hearing()
    audio, ends = _fed(hearing, [QUIET] * 20 + [LOUD] * 25 + [QUIET] * 20)  # 0.5 s speech, 0.4 s quiet
    assert len(ends) == 1  # the 300 ms hangover ended the turn
    fed = b"".join(audio)
    assert fed.count(LOUD) == 25
    quiet_after = (len(fed) - fed.rindex(LOUD) - len(LOUD)) // len(QUIET)
    assert quiet_after == STT_TAIL_MS // FRAME_MS  # 100 ms of the hangover's 300, not all of it


def test_a_pause_the_caller_speaks_after_is_fed_whole() -> None:
    hearing = _hearing()
    frames = [LOUD] * 10 + [QUIET] * 12 + [LOUD] * 10 + [QUIET] * 16  # a 240 ms pause inside the turn
    audio, ends = _fed(hearing, frames)
    fed = b"".join(audio)
    assert len(ends) == 1 and LOUD * 10 + QUIET * 12 + LOUD * 10 in fed  # the pause, every frame of it
