"""Both legs of a call to one stereo WAV: the caller left, the bot right.

Each leg is appended to a raw file as it happens, padded with silence to its
wall-clock position, so the two line up; ``finish`` interleaves them once.
"""

from __future__ import annotations

import os
from pathlib import Path

from streams.audio import SAMPLE_WIDTH, interleave, wav_bytes


class Recorder:
    def __init__(self, folder: str | Path, call_id: str, rate: int, started: float) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.call_id = call_id
        self.rate = rate
        self.started = started
        self._caller = open(self.folder / f"{call_id}.caller.pcm", "wb")  # noqa: SIM115 - closed in finish
        self._bot = open(self.folder / f"{call_id}.bot.pcm", "wb")  # noqa: SIM115
        self._caller_pos = 0
        self._bot_pos = 0
        self.path = self.folder / f"{call_id}.wav"

    def _position(self, at: float) -> int:
        return max(0, int((at - self.started) * self.rate)) * SAMPLE_WIDTH

    def caller_audio(self, pcm: bytes, now: float) -> None:
        """Caller audio that arrived at ``now`` (gaps over 200 ms are filled with silence)."""
        begins = self._position(now) - len(pcm)
        gap = begins - self._caller_pos
        if gap > int(0.2 * self.rate) * SAMPLE_WIDTH:
            self._caller.write(b"\x00" * gap)
            self._caller_pos += gap
        self._caller.write(pcm)
        self._caller_pos += len(pcm)

    def bot_audio(self, pcm: bytes, plays_at: float) -> None:
        gap = self._position(plays_at) - self._bot_pos
        if gap > 0:
            self._bot.write(b"\x00" * gap)
            self._bot_pos += gap
        self._bot.write(pcm)
        self._bot_pos += len(pcm)

    def cut(self, now: float) -> None:
        """The platform dropped what it had not played: drop it here too."""
        position = self._position(now)
        if position < self._bot_pos:
            self._bot.flush()
            self._bot.truncate(position)
            self._bot.seek(position)
            self._bot_pos = position

    def finish(self) -> Path:
        """Write the stereo WAV and remove the raw legs (blocking: run it off the loop)."""
        for leg in (self._caller, self._bot):
            leg.close()
        caller_path = self.folder / f"{self.call_id}.caller.pcm"
        bot_path = self.folder / f"{self.call_id}.bot.pcm"
        stereo = interleave(caller_path.read_bytes(), bot_path.read_bytes())
        tmp = self.path.with_suffix(".wav.tmp")
        tmp.write_bytes(wav_bytes(stereo, self.rate, channels=2))
        os.replace(tmp, self.path)
        caller_path.unlink(missing_ok=True)
        bot_path.unlink(missing_ok=True)
        return self.path
