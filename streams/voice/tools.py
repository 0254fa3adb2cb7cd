"""Tools the LLM policy may call: the built-ins and an agent's HTTP tools (OpenAI-compatible tool calls).

The built-ins act on the call: ``end_call`` (a goodbye, then a hang-up), ``transfer`` (the agent's people,
with the brief, through the same handoff as an intent) and ``hold`` (hold music). An HTTP tool is declared in
the agent file (docs/agents.md) and called with the model's arguments: as the query of a GET, as the JSON
body of a POST. Its host must be on the operator's allow-list (``TOOL_HOSTS``), checked when the policy is
made and again before every request; its secret headers come from environment variables named in the file.
A tool that fails or runs past its timeout gives the model an error to answer from, never an exception.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import TimeoutError as TransportTimeout

BUILTINS: dict[str, dict[str, Any]] = {
    "end_call": {
        "description": "End the call when the caller is done or asks to hang up. Say goodbye in your message.",
        "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}},
    },
    "transfer": {
        "description": "Hand the caller to a person when they ask for one or you cannot help.",
        "parameters": {
            "type": "object",
            "properties": {"summary": {"type": "string", "description": "One sentence for the person."}},
        },
    },
    "hold": {
        "description": "Put the caller on hold with music for a moment (e.g. while they fetch something).",
        "parameters": {"type": "object", "properties": {}},
    },
}
RESULT_CHARS = 4000  # of a tool's answer given back to the model


@dataclass(frozen=True)
class HttpTool:
    """One declared HTTP tool, its secret headers resolved (never logged, never on the timeline)."""

    name: str
    description: str
    parameters: dict[str, Any]
    url: str
    method: str = "POST"
    timeout: float = 3.0
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, spec: Mapping[str, Any], secret: Callable[[str], str]) -> HttpTool:
        headers = {name: secret(variable) for name, variable in (spec.get("secret_headers") or {}).items()}
        return cls(
            spec["name"], spec["description"], dict(spec.get("parameters") or {"type": "object", "properties": {}}),
            spec["url"], spec.get("method", "POST"), float(spec.get("timeout", 3.0)), headers,
        )  # fmt: skip


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for; ``arguments`` is None when they were not a JSON object."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw: str = ""


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    content: str  # what the model reads
    ms: int
    status: int | None = None


def host_allowed(url: str, hosts: Sequence[str]) -> bool:
    """True when ``url`` is http(s) and its host is one of ``hosts`` (exactly, case-insensitive)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and (parts.hostname or "").lower() in {h.lower() for h in hosts}


def parse_tool_calls(message: Mapping[str, Any]) -> list[ToolCall]:
    """The tool calls of an assistant message (OpenAI shape); malformed entries are skipped."""
    calls = []
    for item in message.get("tool_calls") or []:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            continue
        raw = function.get("arguments") or "{}"
        try:
            arguments = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            arguments = None
        calls.append(
            ToolCall(str(item.get("id") or function["name"]), function["name"],
                     arguments if isinstance(arguments, dict) else None, raw if isinstance(raw, str) else "")
        )  # fmt: skip
    return calls


class ToolBox:
    """The tools one agent offers its model, and the HTTP calls behind them."""

    def __init__(
        self,
        builtins: Sequence[str] = (),
        http: Sequence[HttpTool] = (),
        hosts: Sequence[str] = (),
        session: requests.Session | None = None,
    ) -> None:
        self.builtins = [name for name in builtins if name in BUILTINS]
        self.http = {tool.name: tool for tool in http if host_allowed(tool.url, hosts)}
        self.refused = [tool.name for tool in http if tool.name not in self.http]  # hosts not on the allow-list
        self.hosts = tuple(hosts)
        self.session = session or requests.Session()

    def __bool__(self) -> bool:
        return bool(self.builtins or self.http)

    def specs(self) -> list[dict[str, Any]]:
        """The ``tools`` of a chat-completions request."""
        out = [{"type": "function", "function": {"name": name, **BUILTINS[name]}} for name in self.builtins]
        for tool in self.http.values():
            function = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
            out.append({"type": "function", "function": function})
        return out

    def is_builtin(self, name: str) -> bool:
        return name in self.builtins

    def run(self, call: ToolCall) -> ToolResult:
        """Call an HTTP tool (blocking, bounded by its timeout); every failure is a result, not an exception."""
        started = time.monotonic()

        def result(ok: bool, content: str, status: int | None = None) -> ToolResult:
            return ToolResult(ok, content[:RESULT_CHARS], round((time.monotonic() - started) * 1000), status)

        tool = self.http.get(call.name)
        if tool is None:
            return result(False, json.dumps({"error": f"no tool named {call.name}"}))
        if call.arguments is None:
            return result(False, json.dumps({"error": "the arguments were not a JSON object"}))
        if not host_allowed(tool.url, self.hosts):
            return result(False, json.dumps({"error": "the tool's host is not allowed"}))
        get = tool.method == "GET"
        try:
            with self.session.request(
                tool.method, tool.url, params=call.arguments if get else None, json=None if get else call.arguments,
                headers=tool.headers, timeout=tool.timeout, allow_redirects=False, stream=True,
            ) as response:  # fmt: skip
                status = response.status_code
                body = response.raw.read(RESULT_CHARS * 4, decode_content=True) if status < 400 else b""
        except (requests.Timeout, TransportTimeout, TimeoutError):
            return result(False, json.dumps({"error": "the tool timed out"}))
        except (requests.RequestException, TransportError, OSError, ValueError):
            return result(False, json.dumps({"error": "the tool could not be reached"}))
        if status >= 400:
            return result(False, json.dumps({"error": f"the tool answered HTTP {status}"}), status)
        return result(True, body.decode("utf-8", "replace") or "{}", status)
