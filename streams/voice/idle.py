"""Idle callers: after N seconds of silence a re-prompt; after M re-prompts, a polite goodbye.

Pure: the pipeline feeds it the time of every frame, whether the caller is
speaking and whether the bot is audible; it answers what to do now. The
silence is counted from the later of the caller's last speech and the end of
the bot's last audio, so a long reply never counts against the caller.

Only time in which frames arrive counts. A paused stream sends no frames
(mod_audio_stream stops its media bug), and neither does a socket waiting for
its redial: a gap between two frames longer than FRAME_GAP is not silence the
caller chose, so the watch moves on by the gap instead of firing on the
first frame after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IdleRule:
    after: float  # seconds of silence before a re-prompt
    reprompt: str
    max_reprompts: int
    goodbye: str

    @staticmethod
    def of(agent: Mapping[str, Any]) -> IdleRule | None:
        idle = agent.get("idle")
        if not idle:
            return None
        return IdleRule(
            after=float(idle["after"]),
            reprompt=idle.get("reprompt") or agent.get("reprompt") or "Are you still there?",
            max_reprompts=int(idle.get("max_reprompts", 2)),
            goodbye=idle.get("goodbye") or agent.get("goodbye") or "Goodbye.",
        )


FRAME_GAP = 1.0  # seconds between frames (normally 20 ms) beyond which the stream was paused or away


class IdleWatch:
    def __init__(self, rule: IdleRule, now: float) -> None:
        self.rule = rule
        self.last_activity = now
        self.reprompts = 0
        self.last_frame: float | None = None

    def observe(self, now: float, caller_speaking: bool, bot_audible: bool) -> str | None:
        """``"reprompt"`` or ``"goodbye"`` when it is time, else None (called for every frame heard)."""
        if self.last_frame is not None and now - self.last_frame > FRAME_GAP:
            self.last_activity = min(now, self.last_activity + (now - self.last_frame))  # a pause is not silence
        self.last_frame = now
        if caller_speaking:
            self.last_activity = now
            self.reprompts = 0
            return None
        if bot_audible:
            self.last_activity = now
            return None
        if now - self.last_activity < self.rule.after:
            return None
        self.last_activity = now
        if self.reprompts >= self.rule.max_reprompts:
            return "goodbye"
        self.reprompts += 1
        return "reprompt"
