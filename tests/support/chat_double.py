"""An OpenAI-compatible chat-completions server on 127.0.0.1 that answers from a script, with tool calls,
and the HTTP tools an agent calls: the LLM's outside edge, for the tool, filler and policy tests.

``answers`` is consumed in order, one per completion request: a string is a text answer; a dict
``{"tools": [(name, arguments), ...], "content": ...}`` is an answer with tool calls; an entry may carry
``"delay"`` (seconds before answering). When the script runs out, the last answer repeats. Tool requests
(``/tools/<name>``) are recorded with their headers and answered from ``tool_answers[name]``:
``{"status", "body", "delay"}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.processes import http_server


class ChatDouble:
    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []  # completion bodies
        self.tool_requests: list[dict[str, Any]] = []
        self.tool_answers: dict[str, dict[str, Any]] = {}
        self.base = ""

    @property
    def url(self) -> str:
        return f"{self.base}/v1/chat/completions"

    def tool_url(self, name: str) -> str:
        return f"{self.base}/tools/{name}"

    def completion(self, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        self.requests.append(body)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, str):
            return {"role": "assistant", "content": answer}, 0.0
        message: dict[str, Any] = {"role": "assistant", "content": answer.get("content")}
        calls = [
            {"id": f"call_{len(self.requests)}_{n}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}
            for n, (name, arguments) in enumerate(answer.get("tools", []))
        ]  # fmt: skip
        if calls:
            message["tool_calls"] = calls
        return message, float(answer.get("delay", 0.0))


def _handler(double: ChatDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, data: Any) -> None:
            raw = json.dumps(data, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            try:
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a tool past its timeout)
                pass

        def _tool(self, body: Any) -> None:
            parts = urlsplit(self.path)
            name = parts.path.rsplit("/", 1)[-1]
            double.tool_requests.append(
                {"name": name, "method": self.command, "query": dict(parse_qsl(parts.query)), "body": body,
                 "headers": {k.lower(): v for k, v in self.headers.items()}}
            )  # fmt: skip
            answer = double.tool_answers.get(name, {})
            time.sleep(float(answer.get("delay", 0.0)))
            self._send(int(answer.get("status", 200)), answer.get("body", {"ok": True}))

        def do_GET(self) -> None:  # noqa: N802
            self._tool(None)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            if self.path.startswith("/tools/"):
                self._tool(body)
                return
            message, delay = double.completion(body)
            time.sleep(delay)
            self._send(200, {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def chat_double(answers: list[Any]) -> Iterator[ChatDouble]:
    double = ChatDouble(answers)
    with http_server(_handler(double)) as server:
        double.base = f"http://127.0.0.1:{server.server_address[1]}"
        yield double
