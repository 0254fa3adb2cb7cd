"""What the caller heard: the bot's audio placed on the caller's playback clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Heard:
    """Bot audio on the caller's playback clock: (start time, pcm) pieces."""

    rate: int
    pieces: list[list[Any]] = field(default_factory=list)
    clock: float = 0.0

    def add(self, pcm: bytes, now: float) -> float:
        start = max(now, self.clock)
        self.pieces.append([start, pcm])
        self.clock = start + len(pcm) / (self.rate * 2)
        return start

    def cut(self, now: float) -> float:
        """Drop what was not yet played at ``now``; return the seconds dropped."""
        dropped = 0.0
        kept = []
        for start, pcm in self.pieces:
            seconds = len(pcm) / (self.rate * 2)
            if start >= now:
                dropped += seconds
                continue
            if start + seconds > now:
                keep = int((now - start) * self.rate) * 2
                dropped += seconds - keep / (self.rate * 2)
                pcm = pcm[:keep]
            kept.append([start, pcm])
        self.pieces = kept
        self.clock = min(self.clock, now)
        return dropped

    def audible(self, now: float) -> bool:
        return self.clock > now

    def seconds(self) -> float:
        return sum(len(pcm) for _, pcm in self.pieces) / (self.rate * 2)

    def render(self, origin: float) -> bytes:
        out = bytearray()
        for start, pcm in self.pieces:
            position = max(0, int((start - origin) * self.rate)) * 2
            if position > len(out):
                out.extend(b"\x00" * (position - len(out)))
            out[position : position + len(pcm)] = pcm
        return bytes(out)
