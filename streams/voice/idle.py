"""Idle callers: after N seconds of silence a re-prompt; after M re-prompts, a polite goodbye.

Pure: the pipeline feeds it the time of every frame, whether the caller is
speaking and whether the bot is audible; it answers what to do now. The
silence is counted from the later of the caller's last speech and the end of
the bot's last audio, so a long reply never counts against the caller.
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


class IdleWatch:
    def __init__(self, rule: IdleRule, now: float) -> None:
        self.rule = rule
        self.last_activity = now
        self.reprompts = 0

    def observe(self, now: float, caller_speaking: bool, bot_audible: bool) -> str | None:
        """``"reprompt"`` or ``"goodbye"`` when it is time, else None."""
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
