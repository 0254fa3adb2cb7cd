"""Caller audio as it is let in (#25.3, #20.5) and recorded as a stream (#25.3)."""

from __future__ import annotations

import audioop
import stat
import wave
from pathlib import Path

import gevent

from streams.link import protocol
from streams.link.intake import Intake, caller_leg, heard_by_recogniser
from streams.link.media_link import MediaLink
from streams.link.recorder import Recorder
from streams.link.settings import LinkSettings
from streams.playback import Utterance
from tests.support.memsocket import FakeClock, MemorySocket, settle

FRAME = b"\x01\x00" * 160  # 20 ms at 8 kHz


def test_real_time_is_taken_whole() -> None:
    intake = Intake(8000, "mono", burst=1.0, flood=10.0, now=0.0)
    assert all(intake.admit(len(FRAME), n * 0.02) for n in range(3000))  # a minute, paced
    assert intake.excess == 0 and not intake.flooded


def test_faster_than_real_time_is_taken_up_to_the_burst_and_the_rest_dropped_until_flooded() -> None:
    intake = Intake(8000, "mono", burst=1.0, flood=10.0, now=0.0)
    taken = sum(intake.admit(len(FRAME), 0.0) for _ in range(600))  # 12 s of audio at one instant
    assert taken == 50 and intake.excess == 550 * len(FRAME) and intake.flooded  # 1 s in, 11 s over
    intake = Intake(8000, "mono", burst=1.0, flood=10.0, now=0.0)
    taken = sum(intake.admit(len(FRAME), n * 0.01) for n in range(400))  # 8 s of audio in 4 s
    assert 248 <= taken <= 252  # 1 s of burst and 4 s of real time


def test_stereo_gives_the_callers_left_channel_and_counts_both_channels_against_real_time() -> None:
    caller, bot = b"\x10\x00" * 160, b"\x20\x00" * 160
    stereo = audioop.add(audioop.tostereo(caller, 2, 1, 0), audioop.tostereo(bot, 2, 0, 1), 2)
    assert caller_leg(stereo, "stereo") == caller and caller_leg(stereo[:-2], "stereo") is None
    intake = Intake(8000, "stereo", burst=1.0, flood=10.0, now=0.0)
    assert intake.take(protocol.Audio(stereo), 0.0) == protocol.Audio(caller)
    assert intake.take(protocol.Audio(stereo[:-2]), 0.02) == protocol.Rejected("odd_frame", len(stereo) - 2)
    assert all(isinstance(intake.take(protocol.Audio(stereo), n * 0.02), protocol.Audio) for n in range(500))


def test_a_mixed_stream_gives_the_recogniser_silence_while_the_bot_speaks() -> None:
    assert heard_by_recogniser(FRAME, "mixed", bot_audible=True) == bytes(len(FRAME))
    assert heard_by_recogniser(FRAME, "mixed", bot_audible=False) == FRAME
    assert heard_by_recogniser(FRAME, "stereo", bot_audible=True) == FRAME  # its caller leg has no bot in it


def test_the_recording_is_written_as_the_call_goes_and_created_private(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "c1", 8000, started=0.0)
    part = tmp_path / "c1.wav.part"
    assert stat.S_IMODE(Recorder(tmp_path / "private", "c0", 8000, 0.0).folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(part.stat().st_mode) == 0o600
    for n in range(1, 3001):  # a minute of caller audio, the bot speaking a second every ten
        recorder.caller_audio(FRAME, n * 0.02)
        if n % 500 == 0:
            recorder.bot_audio(b"\x02\x00" * 8000, n * 0.02 + 0.1)
        assert len(recorder._caller) + len(recorder._bot) < 8 * 16000  # seconds in memory (of 60), never the call
    assert part.stat().st_size > 58 * 32000  # on disk already
    path = recorder.finish()
    assert path == tmp_path / "c1.wav" and not part.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        assert abs(wav.getnframes() / 8000 - 61.1) < 0.05  # the last bot second starts at 60.1 s
        frames = wav.readframes(wav.getnframes())
    left, right = audioop.tomono(frames, 2, 1, 0), audioop.tomono(frames, 2, 0, 1)
    assert left[:320] == FRAME and right[161600 : 161600 + 16000] == b"\x02\x00" * 8000  # at 10.1 s, for 1 s


def test_a_cut_drops_the_bots_unplayed_audio_from_the_recording(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, "c2", 8000, started=0.0)
    recorder.bot_audio(b"\x05\x00" * 8000, 0.0)  # a second of the bot
    recorder.cut(0.5)  # the caller barged in half way
    recorder.caller_audio(FRAME, 2.0)
    with wave.open(str(recorder.finish())) as wav:
        right = audioop.tomono(wav.readframes(wav.getnframes()), 2, 0, 1)
    assert right[:8000] == b"\x05\x00" * 4000 and right[8000:].strip(b"\0") == b""


class Heard:
    """The receiver end of a media link: what the call (and its recogniser) would be given."""

    def __init__(self) -> None:
        self.audio: list[bytes] = []

    def on_audio(self, pcm: bytes, now: float) -> None:
        self.audio.append(pcm)

    def on_event(self, event: protocol.Event, now: float) -> None: ...

    def on_metadata(self, metadata: protocol.Metadata, now: float) -> None: ...

    def on_tick(self, now: float) -> None: ...


def linked(audio: str) -> tuple[MediaLink, MemorySocket, Heard]:
    link = MediaLink(LinkSettings(rate=8000, audio=audio), clock=FakeClock())
    sock, heard = MemorySocket(), Heard()
    link.attach(sock)
    gevent.spawn(link.serve, sock, heard)
    return link, sock, heard


def test_on_a_mixed_stream_the_call_hears_silence_while_the_bot_is_audible_then_the_line() -> None:
    link, sock, heard = linked("mixed")
    link.enqueue(Utterance("hello", pcm=bytearray(b"\x05\x00" * 8000)))  # the bot has a second to say
    sock.push(FRAME)
    settle()
    link.playback.interrupt(link.clock())  # the bot is done
    sock.push(FRAME)
    settle()
    assert heard.audio == [bytes(len(FRAME)), FRAME]
    link.close(1000, "over")


def test_on_a_stereo_stream_the_call_hears_the_callers_left_channel_only() -> None:
    link, sock, heard = linked("stereo")
    caller, bot = b"\x10\x00" * 160, b"\x20\x00" * 160
    sock.push(audioop.add(audioop.tostereo(caller, 2, 1, 0), audioop.tostereo(bot, 2, 0, 1), 2))
    sock.push(b"\x01\x00" * 161)  # 161 samples: whole mono, half a stereo pair
    settle()
    assert heard.audio == [caller] and link.stats()["dropped"] == {"odd_frame": 1}
    assert link.stats()["bytes_in"] == len(caller)
    link.close(1000, "over")
