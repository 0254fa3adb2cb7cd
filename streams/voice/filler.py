"""Fillers (#23.6): when the policy has not decided within ``after_ms``, a short line plays while it thinks.

The filler is queued on the playback clock like any line, so the real reply, queued after it, follows it
without a gap (when it is ready) and never overlaps it. The lines are the agent's ``filler.lines`` (said in
turn); the TTS cache holds them from start (app/live/warmup.py), so a filler costs no synthesis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gevent

from streams.voice.dialogue import Decision


class Filler:
    def __init__(self, agent: Mapping[str, Any]) -> None:
        rule = agent.get("filler") or {}
        self.after = int(rule.get("after_ms", 800)) / 1000
        self.lines = [str(line) for line in rule.get("lines", ())]
        self.said = 0

    def decide(self, decide: Callable[[], Decision], say: Callable[[str], Any]) -> Decision:
        """``decide()`` (blocking, e.g. an LLM over HTTP); a filler is said if it is slower than ``after_ms``."""
        if not self.lines:
            return decide()
        job = gevent.spawn(decide)
        gevent.wait([job], self.after)
        if not job.ready():
            say(self.lines[self.said % len(self.lines)])
            self.said += 1
        return job.get()
