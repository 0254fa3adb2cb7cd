"""A real HTTP server on 127.0.0.1 standing in for the remote Piopiy REST host.

It records every request (path, headers, JSON body) and answers the way a test
asks: ok, reject (4xx), fail (5xx), slow, garbage, or a scripted sequence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.processes import http_server


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class PlatformDouble:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    # Each answer is (status, body-or-bytes, delay seconds[, extra headers]); the last one repeats.
    answers: list[tuple[Any, ...]] = field(default_factory=lambda: [(200, {"code": 200, "request_id": "req-1"}, 0)])

    def answer_with(self, *answers: tuple[Any, ...]) -> None:
        self.answers = list(answers)

    def next_answer(self) -> tuple[Any, ...]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _handler(double: PlatformDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            double.requests.append(Recorded(self.path, dict(self.headers), body))
            status, answer, delay, *extra = double.next_answer()
            if delay:
                time.sleep(delay)
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_platform() -> Iterator[PlatformDouble]:
    double = PlatformDouble()
    with http_server(_handler(double)) as server:
        double.url = f"http://127.0.0.1:{server.server_address[1]}"
        yield double


# -- issue #20: TeleCMI's documented answers (doc.telecmi.com/piopiy/docs/get-cmiuuid, …/get-request-id) ---------
def documented_call_placed(request_id: str) -> tuple[int, dict[str, Any], int]:
    """make_call's documented success: HTTP 200, ``status: progress`` with the ``request_id``, also under ``data``."""
    body = {"data": {"status": "progress", "request_id": request_id}, "status": "progress", "request_id": request_id}
    return (200, {**body, "code": 200}, 0)


def documented_cmiuuid_cdr(status: str, duration: int = 0, direction: str = "inbound") -> tuple[int, dict, int]:
    """``/v1/piopiy/cmiuuid_cdr``'s documented answer: one leg's CDR (no ids, ``rate`` not ``call_rate``)."""
    cdr = {"duration": duration, "balance": "44.809024", "rate": "1.500000", "from": 440000000000,
           "to": 440000000001, "time": 1637124352000, "leg": "a", "direction": direction, "status": status}  # fmt: skip
    return (200, {"cdr": cdr, "code": 200}, 0)


def documented_request_id_cdr(status: str, duration: int = 10) -> tuple[int, dict, int]:
    """``/v1/piopiy/requestid_cdr``'s documented answer: every leg's CDR (leg b first, as in the sample)."""
    legs = [{"duration": 4, "balance": 1135.14, "rate": 0.39, "from": 4471000000, "to": 9100000000,
             "time": 1637069609000, "leg": "b", "direction": "outbound", "status": status},
            {"duration": duration, "balance": 1134.75, "rate": 0.39, "from": 4471000000, "to": 9200000000,
             "time": 1637069609000, "leg": "a", "direction": "outbound", "status": status}]  # fmt: skip
    return (200, {"count": 2, "cdr": legs, "code": 200}, 0)


NOT_FOUND = (404, {"code": 404, "msg": "cmiuuid not found"}, 0)  # what the pull API answers before it knows a call
