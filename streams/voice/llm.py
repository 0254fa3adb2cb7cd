"""An LLM policy over any OpenAI-compatible chat-completions endpoint, with tools.

Intents still win (a caller who says "agent" is transferred, whatever a model
thinks); what no intent matches goes to the model, with the conversation so
far. Any failure (timeout, HTTP error, an answer without text) falls back to
the scripted policy's miss handling, so the call never stalls on the model.

With tools (streams/voice/tools.py) the model may answer with ``tool_calls``:
a built-in ends the turn with an action (hang up, transfer, hold); an HTTP
tool is called and its result goes back as a ``role: tool`` message, for at
most ``max_rounds`` rounds a turn. Each call and result is on the timeline
(``tool.call``, ``tool.result``); a tool slower than ``wait_ms`` gets the
``waiting`` line spoken while it runs, and a turn whose tools came to nothing
gets the ``fallback`` line: never dead air.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import gevent
import requests

from streams.offload import in_gevent
from streams.voice.dialogue import Decision, ScriptedPolicy
from streams.voice.tools import ToolBox, ToolCall, ToolResult, parse_tool_calls

log = logging.getLogger(__name__)

TOOL_LINES = {  # said while a slow tool runs / when a turn's tools came to nothing (agent: tools.waiting/fallback)
    "en": ("One moment, please.", "Sorry, I could not do that just now."),
    "ko": ("잠시만 기다려 주세요.", "죄송합니다. 지금은 처리할 수 없습니다."),
}


class LLMPolicy:
    def __init__(
        self,
        agent: Mapping[str, Any],
        *,
        url: str,
        model: str,
        api_key: str = "",
        timeout: float = 5.0,
        min_confidence: float = 0.5,
        history: int = 10,
        session: requests.Session | None = None,
        tools: ToolBox | None = None,
    ) -> None:
        self.script = ScriptedPolicy(agent, min_confidence)
        self.agent = agent
        self.url = url
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_history = history
        # One list of messages per exchange (a greeting, a turn: the caller's words, the tool calls the
        # model made and their results, its answer), trimmed by whole exchanges: a tool result never
        # loses the assistant message that asked for it, which the chat API would refuse.
        self.exchanges: list[list[dict[str, Any]]] = []
        self.http = session or requests.Session()
        self.failures = 0
        self.tools = tools or ToolBox()
        settings = dict(agent.get("tools") or {})
        waiting, fallback = TOOL_LINES.get(str(agent.get("language", "en")).lower()[:2], TOOL_LINES["en"])
        self.max_rounds = int(settings.get("max_rounds", 3))
        self.wait_ms = int(settings.get("wait_ms", 1000))
        self.waiting = str(settings.get("waiting") or waiting)
        self.fallback = str(settings.get("fallback") or fallback)
        self.hold_file = str(settings.get("hold_file") or "hold.wav")
        # Set by the voice pipeline: a timeline line, and speech while a slow tool runs.
        self.on_note: Callable[[str, dict[str, Any]], None] = lambda what, info: None
        self.on_wait: Callable[[str], None] = lambda text: None

    def greeting(self) -> Decision:
        decision = self.script.greeting()
        if decision.reply:
            self.exchanges.append([{"role": "assistant", "content": decision.reply}])
        return decision

    @property
    def history(self) -> list[dict[str, Any]]:
        """The messages of the last ``max_history`` exchanges, oldest first."""
        return [message for exchange in self.exchanges[-self.max_history :] for message in exchange]

    def on_turn(self, text: str, confidence: float) -> Decision:
        scripted = self.script.match(text) if text.strip() and confidence >= self.script.min_confidence else None
        tools_used: list[dict[str, Any]] = []
        if scripted is not None or not text.strip():
            decision = self.script.on_turn(text, confidence)
        else:
            answer = self._converse(text, tools_used)
            if answer is None:
                decision = self.script.miss()
            else:
                self.script.misses = 0
                decision = answer
        exchange: list[dict[str, Any]] = [{"role": "user", "content": text}, *tools_used]
        if decision.reply:
            exchange.append({"role": "assistant", "content": decision.reply})
        self.exchanges = [*self.exchanges, exchange][-self.max_history :]
        return decision

    # -- one turn: the model, and its tools ----------------------------------------------------
    def _converse(self, text: str, tools_used: list[dict[str, Any]]) -> Decision | None:
        """The model's answer to ``text`` after at most ``max_rounds`` tool rounds; None if it never answered.

        Each round of HTTP tools that ran to the end (the model's request and every result) is appended
        to ``tools_used``, so later turns know what was looked up; a round a built-in ended is not.
        """
        system = self.agent.get("instructions") or (
            "You are a phone assistant. Answer in one or two short spoken sentences, "
            f"in the language with code {self.agent.get('language', 'en')}."
        )
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}, *self.history]
        messages.append({"role": "user", "content": text})
        for round_ in range(self.max_rounds + 1):
            message = self._complete(messages)
            if message is None:
                return None if round_ == 0 else Decision(reply=self.fallback, intent="llm")
            calls, content = parse_tool_calls(message), _text(message.get("content"))
            if not calls:
                if content:
                    return Decision(reply=content, intent="llm")
                self.failures += 1
                return None if round_ == 0 else Decision(reply=self.fallback, intent="llm")
            if round_ == self.max_rounds:
                self.on_note("tool.rounds", {"max_rounds": self.max_rounds, "asked": [c.name for c in calls]})
                return Decision(reply=self.fallback, intent="llm")
            asked = {"role": "assistant", "content": message.get("content"), "tool_calls": message["tool_calls"]}
            messages.append(asked)
            if content and not self.tools.is_builtin(calls[0].name):
                self.on_wait(content)  # "let me look that up": said while the tool runs
            before = len(messages) - 1
            decided = self._tool_round(calls, content, messages, round_ + 1)
            if decided is not None:
                return decided
            tools_used.extend(messages[before:])
        return Decision(reply=self.fallback, intent="llm")  # pragma: no cover - the loop returns

    def _tool_round(
        self, calls: list[ToolCall], content: str, messages: list[dict[str, Any]], n: int
    ) -> Decision | None:
        """Run one round's calls in order: a built-in decides the turn at once; HTTP results go to the model."""
        for call in calls:
            self.on_note("tool.call", {"id": call.id, "name": call.name, "arguments": call.raw[:500], "round": n})
            if self.tools.is_builtin(call.name):
                return self._builtin(call, content)
            result = self._run(call)
            info = {"id": call.id, "name": call.name, "ok": result.ok, "ms": result.ms, "status": result.status}
            self.on_note("tool.result", {**info, "content": result.content[:500]})
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result.content})
        return None

    def _builtin(self, call: ToolCall, content: str) -> Decision:
        if call.name == "end_call":
            goodbye = content or self.agent.get("goodbye") or "Goodbye."
            return Decision(reply=goodbye, action="hangup", intent="end_call")
        if call.name == "transfer":  # the hold line is the handoff's own: the model's words would say it twice
            summary = (call.arguments or {}).get("summary")
            if isinstance(summary, str) and summary.strip():  # for the brief (streams/session/briefing.py)
                self.on_note("transfer.summary", {"summary": summary[:500]})
            return Decision(action="transfer", intent="transfer", reason="tool")
        return Decision(reply=content or None, action="play", file=self.hold_file, intent="hold")

    def _run(self, call: ToolCall) -> ToolResult:
        """Run an HTTP tool off the loop; past ``wait_ms`` the waiting line is spoken while it goes on."""
        # Patched (the service): a greenlet, its socket cooperative. Unpatched: a real thread, so the wait shows.
        job = (
            gevent.spawn(self.tools.run, call)
            if in_gevent()
            else gevent.get_hub().threadpool.spawn(self.tools.run, call)
        )
        gevent.wait([job], self.wait_ms / 1000)
        if not job.ready():
            self.on_wait(self.waiting)
        gevent.wait([job])
        if job.successful():
            return job.value
        log.warning("tool %s failed: %s", call.name, type(job.exception).__name__)
        return ToolResult(False, json.dumps({"error": "the tool failed"}), 0)

    def _complete(self, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        """One chat completion: the assistant's message, or None (counted as a failure)."""
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": 120, "temperature": 0.3}
        if self.tools:
            body["tools"] = self.tools.specs()
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = self.http.post(self.url, json=body, headers=headers, timeout=self.timeout)
            response.raise_for_status()
            message = response.json()["choices"][0]["message"]
            if not isinstance(message, dict):
                raise TypeError("message")
        except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
            self.failures += 1
            log.warning("LLM unavailable (%s); falling back to the script", type(exc).__name__)
            return None
        return message


def _text(content: Any) -> str:
    return " ".join(content.split()) if isinstance(content, str) else ""
