"""A late loop sheds copies, least important first, and never a caller frame (#21.2).

The lag is handed to the real shedding state as the loop watch hands it (``observe``); the frames go
through the real reader, intake, recorder and call on an in-memory socket whose clock the test moves.
"""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from app.dashboard.feed import stream_events
from streams import events as ev
from streams.link.intake import Intake
from streams.link.recorder import Recorder
from streams.shedding import ORDER, SHEDDING, Shedding
from tests.support.memory_call import FRAME
from tests.support.memsocket import settle


@pytest.fixture(autouse=True)
def calm_loop():  # type: ignore[no-untyped-def]
    SHEDDING.reset()
    yield
    SHEDDING.reset()


def test_the_later_the_loop_the_more_is_shed_in_order_and_it_comes_back_in_reverse() -> None:
    shedding = Shedding(decay=0.5)
    seen = []
    for lag in (0.0, 0.06, 0.12, 0.25, 0.6):
        shedding.observe(lag)
        seen.append(shedding.shed_now())
    assert seen == [[], list(ORDER[:1]), list(ORDER[:2]), list(ORDER[:3]), list(ORDER)]
    back = []
    for _ in range(5):
        shedding.observe(0.0)  # healthy samples: the level falls by half each
        back.append(len(shedding.shed_now()))
    assert back == [3, 2, 1, 0, 0]  # recording returns first, listen-in last


def test_a_late_read_takes_the_whole_backlog_but_a_flood_is_still_dropped() -> None:
    intake = Intake(8000, "mono", burst=2, flood=30, now=0.0)
    taken = sum(intake.admit(320, 0.02 * i) for i in range(100))  # 2 s at real time
    frames_late = 250  # the reader was away 5 s: 5 s of frames wait on the socket
    taken += sum(intake.admit(320, 7.0 + i * 0.0001) for i in range(frames_late))
    assert taken == 100 + frames_late and intake.excess == 0
    flood = sum(intake.admit(320, 7.1 + i * 0.0001) for i in range(500))  # 10 s more at once: no backlog
    assert flood < 160 and intake.excess > 0  # only what is left of the burst got in


def _caller_frames_recorded(path: Path) -> int:
    with wave.open(str(path)) as wav:
        data = wav.readframes(wav.getnframes())
    left = [data[i : i + 2] for i in range(0, len(data), 4)]
    return sum(1 for sample in left if sample != b"\x00\x00") // 160


def test_a_stalled_reader_sheds_in_order_and_loses_no_caller_frame(harness, tmp_path: Path) -> None:
    made = harness(call_id="c-shed")
    link, call = made.link, made.call
    link.recorder = Recorder(tmp_path, "c-shed", 8000, made.clock())
    heard: list[bytes] = []
    link.taps.add(lambda leg, pcm: heard.append(pcm) if leg == "caller" and pcm else None)
    made.live()
    sent = 1

    SHEDDING.observe(0.3)  # the loop ran 300 ms late: listen-in, partials and the feed go; the recording stays
    made.clock.advance(5.0)  # the reader was away 5 s: 250 frames wait on the socket
    for _ in range(250):
        made.sock.push(FRAME)
    sent += 250
    settle(0.3)
    call.publish(ev.PartialTranscript(call_id="c-shed", text="hel"))
    SHEDDING.observe(0.8)  # later still: the recording goes too
    for _ in range(10):
        made.clock.advance(0.02)
        made.sock.push(FRAME)
    sent += 10
    settle(0.2)

    stats = call.stats()
    assert stats["frames_in"] == sent and stats["dropped"] == {}  # every caller frame was let in
    assert stats["shed"] == {"listen_in": 260, "partials": 1, "recording": 10}
    assert len(heard) == 1 and not made.of(ev.PartialTranscript)
    recorded = _caller_frames_recorded(link.recorder.finish())
    assert recorded == sent - 10  # the recording lost only the frames shed at the last mark


def test_a_shed_feed_keeps_the_calls_their_states_and_what_was_said() -> None:
    bus = ev.EventBus()
    feed = stream_events(bus, keepalive=0.05)
    assert next(feed).startswith("retry")
    SHEDDING.observe(0.25)
    before = SHEDDING.counts["feed"]
    bus.publish(ev.PartialTranscript(call_id="c1", text="hel"))
    bus.publish(ev.Note(call_id="c1", what="dtmf", info={"digits": "1"}))
    bus.publish(ev.TranscriptLine(call_id="c1", speaker="caller", text="hello"))
    bus.publish(ev.StateChanged(call_id="c1", state="live"))
    assert next(feed).startswith("event: transcript") and next(feed).startswith("event: state")
    assert SHEDDING.counts["feed"] - before == 2
    feed.close()


def test_audio_waiting_for_a_late_recogniser_is_kept_not_dropped() -> None:
    """vosk far behind (its greenlet has not run at all): 20 s of speech wait whole for it (50 chunks was the cap)."""
    from streams.turns.rules import TurnDetector
    from streams.voice.hearing import Hearing

    drops: list[int] = []
    loud = (b"\xff\x3f\x01\xc0") * 80  # 20 ms at 8 kHz, far above the energy VAD's threshold
    hearing = Hearing(
        TurnDetector(8000),
        None,  # type: ignore[arg-type]  # never reached: the recogniser's greenlet is not running
        None,  # type: ignore[arg-type]
        1600,  # 100 ms chunks
        on_speech=lambda: None,
        on_partial=lambda text: None,
        on_turn=lambda heard: None,
        on_drop=lambda: drops.append(1),
    )
    for i in range(1000):
        hearing.feed(loud, 1000.0 + i * 0.02)
    assert not drops and hearing._queue.qsize() >= 190  # every chunk of the 20 s is queued for vosk


def test_shed_marks_ms_moves_the_marks_and_off_never_sheds_that_kind() -> None:
    from app.config import ConfigError
    from app.environment import env_rising

    marks = env_rising({"SHED_MARKS_MS": "50, 100, 200, off"}, "SHED_MARKS_MS", "1,2,3,4", 4)
    assert marks == (50.0, 100.0, 200.0, float("inf"))
    assert env_rising({}, "SHED_MARKS_MS", "50,100,200,500", 4) == (50.0, 100.0, 200.0, 500.0)
    for bad in ("50,100,200", "100,50,200,500", "a,b,c,d", "-1,1,2,3", "nan,1,2,3"):
        with pytest.raises(ConfigError, match="SHED_MARKS_MS"):
            env_rising({"SHED_MARKS_MS": bad}, "SHED_MARKS_MS", "50,100,200,500", 4)
    shedding = Shedding()
    shedding.configure(tuple(ms / 1000 for ms in marks))
    shedding.observe(60.0)  # a minute late: everything that may be shed is
    assert shedding.shed_now() == ["listen_in", "partials", "feed"]  # the recording stays whole
