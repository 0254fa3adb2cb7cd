"""Both legs of a call to one stereo WAV, written as the call goes: the caller left, the bot right.

Each leg is placed at its wall-clock position (caller gaps over 200 ms, and
the bot's silences, filled with silence) so the two line up. The legs wait in
memory only until they are settled, SETTLE seconds behind the clock (the bot's
audio is sent a little ahead of time and a barge-in may still cut it), then
go to the file interleaved. So a call of any length holds a few seconds of
audio, never the whole call; ``finish`` writes the rest and fixes the header.
The file is created 0600 (it is a private conversation) as ``<id>.wav.part``
and renamed to ``<id>.wav`` when whole.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

from streams.audio import SAMPLE_WIDTH, interleave
from streams.offload import run_blocking

SETTLE = 1.0  # seconds behind the clock after which a leg's audio no longer changes
HEADER = 44


def _header(rate: int, data_bytes: int) -> bytes:
    """A canonical 44-byte PCM WAV header, two channels of 16-bit L16 at ``rate``."""
    block = 2 * SAMPLE_WIDTH
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, rate, rate * block, block, 8 * SAMPLE_WIDTH)
        + b"data" + struct.pack("<I", data_bytes)
    )  # fmt: skip


class Recorder:
    def __init__(self, folder: str | Path, call_id: str, rate: int, started: float) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # recordings are private conversations
        self.call_id = call_id
        self.rate = rate
        self.started = started
        self.path = self.folder / f"{call_id}.wav"
        self._part = self.folder / f"{call_id}.wav.part"
        fd = os.open(self._part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file = os.fdopen(fd, "wb")
        self._file.write(_header(rate, 0))
        self._written = 0  # bytes of each leg already in the file
        self._caller = bytearray()  # each leg from ``_written`` on
        self._bot = bytearray()

    def _position(self, at: float) -> int:
        return max(0, int((at - self.started) * self.rate)) * SAMPLE_WIDTH

    def caller_audio(self, pcm: bytes, now: float) -> None:
        """Caller audio that arrived at ``now`` (gaps over 200 ms are filled with silence)."""
        begins = self._position(now) - len(pcm)
        gap = begins - (self._written + len(self._caller))
        if gap > int(0.2 * self.rate) * SAMPLE_WIDTH:
            self._caller += bytes(gap)
        self._caller += pcm
        self._settle(now)

    def bot_audio(self, pcm: bytes, plays_at: float) -> None:
        gap = self._position(plays_at) - (self._written + len(self._bot))
        if gap > 0:
            self._bot += bytes(gap)
        self._bot += pcm

    def cut(self, now: float) -> None:
        """The platform dropped what it had not played: drop it here too (what is not settled yet)."""
        keep = self._position(now) - self._written
        if 0 <= keep < len(self._bot):
            del self._bot[keep:]

    def _settle(self, now: float) -> None:
        """Write what is SETTLE seconds old, once a second's worth has gathered."""
        upto = self._position(now - SETTLE) - self._written
        if upto >= self.rate * SAMPLE_WIDTH:
            self._write(upto)

    def _write(self, size: int) -> None:
        """Interleave the first ``size`` bytes of each leg (silence where a leg is short) into the file."""
        caller, bot = bytes(self._caller[:size]), bytes(self._bot[:size])
        self._file.write(interleave(caller.ljust(size, b"\0"), bot.ljust(size, b"\0")))
        del self._caller[:size], self._bot[:size]
        self._written += size

    def finish(self) -> Path:
        """Write the rest, fix the header, and put the file in place (blocking: run it off the loop)."""
        self._write(max(len(self._caller), len(self._bot)))
        data = self._written * 2
        self._file.seek(0)
        self._file.write(_header(self.rate, data))
        self._file.close()
        os.replace(self._part, self.path)
        return self.path


def finish(recorder: Recorder | None, log: logging.Logger | logging.LoggerAdapter) -> str | None:
    """Finish ``recorder`` off the loop; its path, or None (a lost recording never keeps a call open)."""
    if recorder is None:
        return None
    try:
        return str(run_blocking(recorder.finish))
    except Exception:  # noqa: BLE001
        log.exception("recording could not be written")
        return None
