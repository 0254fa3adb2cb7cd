"""Words on the dashboard's pages: backticked commands as code, end reasons and events as sentences.

The sentences themselves are one table (``streams/words.py``), shared with the emulator's summary.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from streams import words

TICKED = re.compile(r"`([^`]+)`")


def code_spans(text: str) -> Markup:
    """``text`` escaped, each `backticked` part as <code> (the problems /healthz reports are written for both)."""
    return Markup(TICKED.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


def end_reason(code: str | None) -> str:
    return words.end_reason(code)


def event_sentence(entry: dict[str, Any]) -> str:
    detail = entry.get("detail")
    return words.event_sentence(entry["kind"], detail if isinstance(detail, dict) else {})


FILTERS: dict[str, Any] = {"code_spans": code_spans, "end_reason": end_reason, "event_sentence": event_sentence}


def parties(call: dict[str, Any]) -> str:
    """Who called whom, in words: a softphone call has no numbers, an unknown number says so."""
    if call.get("direction") == "browser":
        return "softphone call from the dashboard"
    unknown = "an unknown number"
    return (
        f"{call.get('direction')} call from {call.get('from_number') or unknown} to {call.get('to_number') or unknown}"
    )


def times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def shown_transcript(lines: list[dict[str, Any]], timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Transcript lines as shown: a caller line with no text is "(not understood)" with how long the caller
    spoke (from its turn, when there is one), and a run of them is one line."""
    spoken = [(float(e["at"]), float(e["detail"].get("speech_ms") or 0)) for e in timeline if e["kind"] == "turn"]
    out: list[dict[str, Any]] = []
    for line in lines:
        if line["speaker"] != "caller" or (line.get("text") or "").strip():
            out.append({**line, "missed": 0})
            continue
        ms = next((ms for at, ms in spoken if 0 <= at - float(line["at"]) < 2.0), 0.0)
        last = out[-1] if out else None
        if last is not None and last["missed"]:
            last["missed"] += 1
            last["speech_ms"] += ms
        else:
            out.append({**line, "missed": 1, "speech_ms": ms})
            last = out[-1]
        spoke = f", {last['speech_ms'] / 1000:.1f} s of speech" if last["speech_ms"] else ""
        last["text"] = "(not understood" + (f", {times(last['missed'])}" if last["missed"] > 1 else "") + f"{spoke})"
    return out


COMMAND_HELP = {
    "pause": "the platform stops sending the caller's audio and playing ours; the call stays up",
    "resume": "the caller and the bot hear each other again",
    "break": "cut what the bot is saying now",
    "stop": "the bot leaves the call; the call itself goes on on the platform (its next PCMO action)",
    "hangup": "end the call for the caller",
    "say": "the bot says your text next, in the agent's voice",
    "play": "play a file to the caller; stream: through the bot, pcmo: by the platform",
    "transfer": "ring a person and bridge the caller; timeout: seconds each ring lasts; loop: how many rounds",
}

FIELD_HINTS = {"timeout": "ring seconds", "loop": "ring rounds", "ring_type": "ring"}


FILTERS.update({"parties": parties})

HANDOFF_STATES = {
    "holding": "on hold, about to ring",
    "ringing": "ringing",
    "bridged": "a person has the call",
    "unanswered": "nobody answered",
    "retrying": "ringing again",
    "declined": "the caller did not want to try again",
    "failed": "could not start",
    "ended": "the call ended before the platform said how the transfer went",
}
BADGES = {"handed_off": "transferred", "browser": "softphone"}  # the other states and directions are words already
FILTERS["badge"] = lambda code: BADGES.get(code, code)
FILTERS["handoff_state"] = lambda state: HANDOFF_STATES.get(state, state)
