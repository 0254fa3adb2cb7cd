"""Warm transfer: what the person taking the call should know before they say hello.

The call remembers its recent transcript lines and the intents its turns
reached (``Memory`` observes the call's own events). At a transfer the brief is
built from them: a one-sentence summary (from the LLM when one is configured,
else made from the intents and the caller's last words), the intents, and the
last lines. It goes on the timeline and the live feed (the dashboard shows it
while the person's phone rings) and, when the agent names one, to
``human.handoff_url``, signed as Standard Webhooks do and retried
(streams/session/signed_post.py).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import requests

from streams.events import CallEvent, HandoffBriefed, Note, TranscriptLine, Turn
from streams.session.signed_post import post_signed

log = logging.getLogger(__name__)

Summarizer = Callable[[list[dict[str, str]]], str | None]


class Memory:
    def __init__(self, lines: int = 30) -> None:
        self.lines: deque[dict[str, str]] = deque(maxlen=lines)
        self.intents: list[str] = []
        self.not_understood = 0  # caller turns heard but with no words recognised
        self.model_summary: str | None = None  # the call's LLM, in its transfer tool call (#23.1)

    def observe(self, event: CallEvent) -> None:
        if isinstance(event, TranscriptLine) and event.text.strip():
            self.lines.append({"speaker": event.speaker, "text": event.text})
        elif isinstance(event, TranscriptLine) and event.speaker == "caller":
            self.not_understood += 1
        elif isinstance(event, Turn) and event.intent and event.intent not in self.intents:
            self.intents.append(event.intent)
        elif isinstance(event, Note) and event.what == "transfer.summary":
            given = event.info.get("summary")
            text = " ".join(given.split())[:500] if isinstance(given, str) else ""
            self.model_summary = text or self.model_summary


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def plain_summary(memory: Memory, why: str) -> str:
    said = [line["text"] for line in memory.lines if line["speaker"] == "caller"]
    intents = ", ".join(memory.intents) or "none recognised"
    missed = memory.not_understood
    if said:
        last = f' The caller last said: "{said[-1]}".'
        last += f" The caller also spoke {_times(missed)} without being understood." if missed else ""
    elif missed:
        last = f" The caller spoke {_times(missed)}, not understood."
    else:
        last = " The caller has not spoken yet."
    return f"Transferred ({why}). Intents: {intents}.{last}"


def brief(memory: Memory, why: str, numbers: list[str], summarize: Summarizer | None = None) -> dict[str, Any]:
    """The context for the person taking the call (blocking: the LLM is asked, with its own timeout).

    The summary the call's own model gave with its ``transfer`` tool call comes first (it heard the
    whole call, and asking again costs a round trip while the caller waits); then ``summarize``; then
    one made from the transcript.
    """
    lines = list(memory.lines)[-8:]
    summary, by = memory.model_summary, "model"
    if not summary:
        summary, by = (summarize(lines) if summarize is not None and lines else None), "llm"
    return {
        "why": why,
        "numbers": numbers,
        "summary": summary or plain_summary(memory, why),
        "summary_by": by if summary else "transcript",
        "intents": list(memory.intents),
        "not_understood": memory.not_understood,
        "lines": lines,
    }


def brief_person(call: Any, numbers: list[str], why: str, summarize: Summarizer | None, url: str | None) -> None:
    """Publish the brief for a transfer under way, and POST it to ``url`` (the agent's handoff_url) if any."""
    context = brief(call.memory, why, numbers, summarize)
    call.publish(HandoffBriefed(call_id=call.call_id, context=context))
    if not url:
        return
    secret, retries = call.settings.webhook_secret, call.settings.webhook_retries
    if not secret:
        call.log.warning("handoff_url: no WEBHOOK_SIGNING_SECRET, so the brief goes unsigned")
    status, attempts = post_signed(url, {"call_id": call.call_id, **context}, secret, retries=retries)
    if not isinstance(status, int) or status >= 300:  # the transfer goes ahead without its webhook
        call.log.warning("handoff_url failed after %d attempt(s): %s", attempts, status)
    info = {"status": status, "attempts": attempts, "signed": bool(secret)}
    call.publish(Note(call_id=call.call_id, what="handoff.posted", info=info))


def llm_summarizer(url: str, model: str, api_key: str = "", timeout: float = 5.0) -> Summarizer:
    """A one-sentence summary from an OpenAI-compatible chat endpoint; None on any failure."""

    def summarize(lines: list[dict[str, str]]) -> str | None:
        transcript = "\n".join(f"{line['speaker']}: {line['text']}" for line in lines)
        body = {
            "model": model,
            "messages": [
                {"role": "system", "content": "Summarise this phone call for the person about to take it over, "
                 "in one short sentence, in the language of the call."},
                {"role": "user", "content": transcript},
            ],
            "max_tokens": 80,
            "temperature": 0.2,
        }  # fmt: skip
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            response = requests.post(url, json=body, headers=headers, timeout=timeout)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("LLM summary unavailable (%s); using the transcript", type(exc).__name__)
            return None
        return " ".join(content.split()) if isinstance(content, str) and content.strip() else None

    return summarize
