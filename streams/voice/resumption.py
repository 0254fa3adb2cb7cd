"""False interruptions resume (#23.5): a barge-in that turns out to be nothing gives the line back.

When speech cuts the bot and the turn it becomes has no words, is only a backchannel ("uh-huh", "네"), or
lasted less than the agent's ``min_ms``, it was no turn at all: the cut line plays on from where the caller
stopped hearing it (the playback clock's ``heard_ms``), instead of being lost. The policy is not asked; the
timeline says ``interrupt.resumed`` with why. Off unless the agent sets ``interruption.resume``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams import events as ev
from streams.voice.dialogue import normalize
from streams.voice.hearing import Heard
from streams.voice.port import CallPort

BACKCHANNELS = {
    "en": ("uh huh", "uh-huh", "mhm", "mm", "hmm", "ok", "okay", "yeah", "right", "yes"),
    "ko": ("네", "예", "응", "음", "아"),
}


class FalseInterruption:
    def __init__(self, agent: Mapping[str, Any]) -> None:
        rule = (agent.get("interruption") or {}).get("resume")
        self.enabled = rule is not None
        rule = rule or {}
        language = str(agent.get("language", "en")).lower()[:2]
        words = rule.get("backchannels") or BACKCHANNELS.get(language, BACKCHANNELS["en"])
        self.backchannels = {normalize(word) for word in words}
        self.min_ms = float(rule.get("min_ms", 0))
        self.cuts: list[dict[str, Any]] = []

    def barged(self, cuts: list[dict[str, Any]]) -> None:
        """A barge-in cut these: the next turn decides whether they come back."""
        self.cuts = [cut for cut in cuts if "utterance" in cut and cut.get("kind") != "music"] if self.enabled else []

    def why(self, heard: Heard) -> str | None:
        """Why the turn after a barge-in was no real turn (``no_words``, ``backchannel``, ``short``), or None."""
        if not self.cuts:
            return None
        said = normalize(heard.text)
        if not said:
            return "no_words"
        if said in self.backchannels:
            return "backchannel"
        if heard.speech_ms < self.min_ms:
            return "short"
        return None

    def resume(self, port: CallPort, heard: Heard) -> bool:
        """Give back what the barge-in cut when it was false; True when the turn is done with."""
        why = self.why(heard)
        cuts, self.cuts = self.cuts, []
        if why is None:
            return False
        if heard.text.strip():
            port.publish(ev.TranscriptLine(call_id=port.call_id, speaker="caller", text=heard.text))
        for cut in cuts:
            rest = port.resume_line(cut)
            info = {"why": why, "utterance": cut["utterance"], "from_ms": cut.get("heard_ms"), "heard": heard.text}
            port.publish(ev.Note(call_id=port.call_id, what="interrupt.resumed", info={**info, "resumed": bool(rest)}))
        return True
