"""Caller audio as it is let in: at most real time plus a burst, and the caller's own voice out of mixed or stereo.

Rate: whoever holds a stream URL could push hours of audio in seconds, and
everything taken is recorded and heard. ``Intake`` is a token bucket in bytes:
it fills at the stream's real-time byte rate up to ``burst`` seconds (network
jitter and the module's STREAM_BUFFER_SIZE bunch frames), and a frame that
does not fit is dropped and counted. Once the dropped excess passes ``flood``
seconds of audio the peer is not a phone call: the socket is closed (1008).
When our reader comes back late (the event loop stalled), the frames the caller
sent meanwhile are all waiting on the socket at once: the bucket's room grows by
the time since the last frame (at most ``flood`` seconds), so an admitted
call's audio is never lost to our own lateness (#21.2). Over the whole call
the peer still gets no more than real time plus the burst; after a pause of
its own, at most that pause (up to ``flood`` seconds) more at once.

Channels: with ``listen_mode: both`` mod_audio_stream sends ``mixed`` (one
channel, the caller and the bot summed) or ``stereo`` (interleaved L16, the
caller's read leg left, the bot's write leg right). ``caller_leg`` gives the
caller's channel of a stereo frame; mixed has no caller-only channel, so while
the bot is audible the recogniser is given silence of the same length rather
than the bot's own voice (barge-in is not possible on a mixed stream).
"""

from __future__ import annotations

import audioop

from streams.audio import SAMPLE_WIDTH
from streams.link import protocol

AUDIO_KINDS = ("mono", "mixed", "stereo")  # mod_audio_stream's mix types


def channels(audio: str) -> int:
    return 2 if audio == "stereo" else 1


class Intake:
    def __init__(self, rate: int, audio: str, burst: float, flood: float, now: float) -> None:
        self.audio = audio
        bytes_per_second = rate * SAMPLE_WIDTH * channels(audio)
        self.bytes_per_second = bytes_per_second
        self.capacity = burst * bytes_per_second
        self.flood = flood
        self.flood_bytes = flood * bytes_per_second
        self.tokens = self.capacity
        self.excess = 0  # bytes dropped for arriving faster than real time
        self.at = now

    def admit(self, size: int, now: float) -> bool:
        """True when a frame of ``size`` bytes arriving at ``now`` is within real time plus the burst."""
        gap = max(0.0, now - self.at)
        room = self.capacity + min(gap, self.flood) * self.bytes_per_second  # the backlog of a late read
        self.tokens = min(max(room, self.tokens), self.tokens + gap * self.bytes_per_second)
        self.at = now
        if size <= self.tokens:
            self.tokens -= size
            return True
        self.excess += size
        return False

    @property
    def flooded(self) -> bool:
        return self.excess > self.flood_bytes

    def take(self, audio: protocol.Audio, now: float) -> protocol.Audio | protocol.Rejected:
        """``audio`` as the caller's mono leg, or why it is dropped (too fast, or half a stereo sample)."""
        if not self.admit(len(audio.pcm), now):
            return protocol.Rejected("audio_excess", len(audio.pcm))
        pcm = caller_leg(audio.pcm, self.audio)
        return protocol.Rejected("odd_frame", len(audio.pcm)) if pcm is None else protocol.Audio(pcm)


def caller_leg(pcm: bytes, audio: str) -> bytes | None:
    """The caller's mono L16 in a frame of ``audio`` kind; None for a stereo frame that is not whole samples."""
    if audio != "stereo":
        return pcm
    if len(pcm) % (2 * SAMPLE_WIDTH):
        return None
    return audioop.tomono(pcm, SAMPLE_WIDTH, 1, 0)


def heard_by_recogniser(pcm: bytes, audio: str, bot_audible: bool) -> bytes:
    """What the recogniser gets of the caller leg ``pcm``: on a mixed stream, silence while the bot speaks."""
    if audio == "mixed" and bot_audible:
        return bytes(len(pcm))
    return pcm
