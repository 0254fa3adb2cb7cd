"""What each end reason and timeline event means, in a sentence a supervisor reads.

One table for the dashboard's call page, the emulator's summary and the docs
(docs/architecture.md lists it); the API keeps the codes. A code not in the
table is shown as itself, so a new reason is never hidden, only unexplained.
"""

from __future__ import annotations

from typing import Any

END_REASONS = {
    # the caller or the platform ended it
    "hung_up": "the caller hung up",
    "socket_closed": "the platform closed the stream (the caller hung up, or the call moved on)",
    "socket_lost": "the audio stream dropped and did not come back",
    "completed": "the platform reported the call complete",
    "ended": "the platform reported the call ended",
    "disconnected": "the platform reported the call disconnected",
    "missed": "nobody answered",
    "busy": "the line was busy",
    "no_answer": "nobody took the transfer and the caller was told goodbye",
    "no_answer_declined": "nobody took the transfer and the caller did not want to try again",
    "unknown_to_platform": "the platform has no record of this call (closed by the reconciler)",
    "call_ended": "a stream arrived for a call that had already ended",
    # the bot or the agent's rules ended it
    "agent_hangup": "the bot said goodbye and hung up",
    "caller_idle": "the caller stayed silent after the reprompts",
    "no_stt": "no speech model for the agent's language, so the caller could not be heard",
    "stt_error": "speech recognition failed during the call",
    "no_human": "an answering machine picked up (no person on the line)",
    "voicemail_left": "an answering machine picked up; the bot left a message",
    "reply_failed": "the bot could not play its reply",
    "handoff_unanswered": "nobody took the transfer",
    "misses": "the bot did not understand the caller too many times",
    # a supervisor or the API ended it
    "hangup_requested": "a supervisor hung up",
    "stream_stopped": "a supervisor stopped the audio stream (the call went back to the platform)",
    # limits and the service itself
    "max_duration": "the call reached its maximum length",
    "idle_timeout": "no audio arrived from the platform for too long",
    "audio_flood": "the platform sent audio faster than real time (closed for safety)",
    "max_message_size": "the platform sent a frame larger than allowed",
    "max_calls": "this node was full and refused the stream",
    "shutting_down": "this node was shutting down and refused the stream",
    "shutdown": "the service was restarted or stopped during the call",
    "interrupted": "the service stopped before the call ended",
    "node_lost": "the node holding the call stopped answering",
    "internal_error": "an internal error in the service",
    # outbound calls the platform did not place
    "platform_rejected": "the platform refused to place the call",
    "platform_unavailable": "the platform could not be reached",
    "platform_busy": "the platform asked us to slow down",
}

EVENT_KINDS = {
    "state": "the call's state changed",
    "turn": "the caller spoke",
    "reply": "the bot answered",
    "spoken": "the bot spoke",
    "interrupt": "the bot was cut off",
    "answered": "the outbound call was answered",
    "control": "a supervisor or the API sent a command",
    "handoff": "the transfer to a person started",
    "handoff.brief": "the brief for the person taking the call",
    "handoff.failed": "the transfer could not be started",
    "handoff.answered": "a person answered the transfer",
    "handoff.unanswered": "nobody answered the transfer",
    "handoff.retry": "the caller asked to try the transfer again",
    "handoff.declined": "the caller did not want to try again",
    "handoff.posted": "the brief was sent to the handoff webhook",
    "play": "a sound file was played",
    "play.failed": "a sound file could not be played",
    "dtmf": "the caller pressed a key",
    "event": "the platform sent an event",
    "node": "the call moved between nodes",
    "platform.call": "the platform accepted the outbound call",
    "rejected": "a stream was refused",
    "socket.dropped": "the audio stream dropped",
    "socket.redialled": "the audio stream came back",
    "stream": "the platform reported on the stream leg",
    "stream.event": "the platform sent a stream event",
    "stream.metadata": "the platform described the stream",
    "stream.writer_failed": "sending audio to the platform failed",
    "stt.unavailable": "speech recognition is unavailable for this call",
    "tts.failed": "the bot's voice could not be made",
    "turn.fallback": "turn-taking fell back to the silence rule",
    "turn.unanswered": "no reply could be played; the call ended",
    "voice.switched": "the bot's voice changed",
    "webhook.answer": "the platform asked how to answer the call",
    "pcmo.answer": "we told the platform how to answer the call",
    "idle.reprompt": "the caller was silent: the bot asked again",
    "idle.goodbye": "the caller stayed silent: the bot said goodbye",
}

STATES = {
    "created": "created",
    "connecting": "connecting",
    "live": "live",
    "handed_off": "transferred to a person",
    "ended": "ended",
    "failed": "failed",
}


def end_reason(code: str | None) -> str:
    """The end reason in words ('' for none); an unknown code as itself."""
    if not code:
        return ""
    return END_REASONS.get(code, code.replace("_", " "))


def event_kind(kind: str) -> str:
    return EVENT_KINDS.get(kind, kind.replace("_", " ").replace(".", ": "))


def event_sentence(kind: str, detail: dict[str, Any]) -> str:
    """One line for a timeline entry: what happened, with the few details that matter."""
    say = SENTENCES.get(kind)
    if say is not None:
        try:
            return say(detail)
        except (KeyError, TypeError, ValueError):
            pass
    return event_kind(kind)[:1].upper() + event_kind(kind)[1:] + "."


def _state(d: dict[str, Any]) -> str:
    state = STATES.get(str(d.get("state")), str(d.get("state")))
    because = f": {end_reason(d['reason'])}" if d.get("reason") else ""
    return f"The call is {state}{because}."


def _turn(d: dict[str, Any]) -> str:
    spoke = f"{float(d.get('speech_ms') or 0) / 1000:.1f} s"
    if not d.get("text"):
        return f"The caller spoke for {spoke}: not understood."
    meaning = "not understood" if d.get("miss") or not d.get("intent") else f"meaning {d['intent']}"
    return f"The caller said “{d['text']}” ({meaning}, {spoke})."


def _who(by: str) -> str:
    """Who sent a command: ``dashboard:ops`` is "ops on the dashboard", ``api`` "The API"."""
    if by.startswith("dashboard:"):
        return f"{by.split(':', 1)[1]} on the dashboard"
    return "The API" if by == "api" else by[:1].upper() + by[1:]


SENTENCES = {
    "state": _state,
    "turn": _turn,
    "reply": lambda d: f"The bot began its reply {float(d['latency_ms']):.0f} ms after the caller stopped.",
    "spoken": lambda d: f"The bot said “{d['text']}”",
    "event": lambda d: (
        f"The platform sent an event: {str(d['kind']).replace('_', ' ')}"
        + (f" (leg {d['leg']})." if d.get("leg") and d["leg"] != "a" else ".")
    ),
    "stream": lambda d: f"The platform's stream leg reported: {d['status']}.",
    "interrupt": lambda d: f"The bot was cut off ({d.get('why') or 'barge-in'}).",
    "answered": lambda d: f"The call was answered by a {d['by']}." if d.get("by") != "unknown" else "Answered.",
    "control": lambda d: f"{_who(str(d.get('by') or 'someone'))} sent “{d['action']}”.",
    "pcmo.answer": lambda d: f"We told the platform to answer with: {', '.join(map(str, d['actions']))}.",
    "handoff": lambda d: (
        f"Transfer to {', '.join(map(str, d.get('numbers') or [])) or 'a person'}"
        + (f" ({d['why']})." if d.get("why") else ".")
    ),
    "handoff.brief": lambda d: f"Brief: {(d.get('context') or {}).get('summary') or 'none'}",
    "handoff.failed": lambda d: f"The transfer could not start: {d.get('error') or d.get('why')}.",
    "play": lambda d: f"Played {d['file']}.",
    "play.failed": lambda d: f"Could not play {d['file']}: {d.get('error')}.",
    "dtmf": lambda d: f"The caller pressed {d.get('digit') or d.get('digits') or 'a key'}.",
}
