"""An LLM policy over any OpenAI-compatible chat-completions endpoint.

Intents still win (a caller who says "agent" is transferred, whatever a model
thinks); what no intent matches goes to the model, with the conversation so
far. Any failure (timeout, HTTP error, an answer without text) falls back to
the scripted policy's miss handling, so the call never stalls on the model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import requests

from streams.voice.dialogue import Decision, ScriptedPolicy

log = logging.getLogger(__name__)


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
    ) -> None:
        self.script = ScriptedPolicy(agent, min_confidence)
        self.agent = agent
        self.url = url
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_history = history
        self.history: list[dict[str, str]] = []
        self.http = session or requests.Session()
        self.failures = 0

    def greeting(self) -> Decision:
        decision = self.script.greeting()
        if decision.reply:
            self.history.append({"role": "assistant", "content": decision.reply})
        return decision

    def on_turn(self, text: str, confidence: float) -> Decision:
        scripted = self.script.match(text) if text.strip() and confidence >= self.script.min_confidence else None
        if scripted is not None or not text.strip():
            decision = self.script.on_turn(text, confidence)
        else:
            reply = self._ask(text)
            if reply is None:
                decision = self.script.miss()
            else:
                self.script.misses = 0
                decision = Decision(reply=reply, intent="llm")
        self.history.append({"role": "user", "content": text})
        if decision.reply:
            self.history.append({"role": "assistant", "content": decision.reply})
        self.history = self.history[-2 * self.max_history :]
        return decision

    def _ask(self, text: str) -> str | None:
        system = self.agent.get("instructions") or (
            "You are a phone assistant. Answer in one or two short spoken sentences, "
            f"in the language with code {self.agent.get('language', 'en')}."
        )
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, *self.history, {"role": "user", "content": text}],
            "max_tokens": 120,
            "temperature": 0.3,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = self.http.post(self.url, json=body, headers=headers, timeout=self.timeout)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
            self.failures += 1
            log.warning("LLM unavailable (%s); falling back to the script", type(exc).__name__)
            return None
        if not isinstance(content, str) or not content.strip():
            self.failures += 1
            return None
        return " ".join(content.split())
