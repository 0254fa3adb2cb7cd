"""A webhook receiver on 127.0.0.1 that verifies each POST with the `standardwebhooks` library (not our code)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.processes import http_server


@contextmanager
def receiver(secret: str, answers: list[int]) -> Iterator[tuple[str, list[dict]]]:
    """Answers each POST with the next of ``answers`` (the last one repeats); records what it verified."""
    got: list[dict] = []
    lock = threading.Lock()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = dict(self.headers.items())
            try:
                payload, verified = Webhook(secret).verify(body, headers), True
            except WebhookVerificationError:
                payload, verified = None, False
            with lock:
                got.append({"headers": headers, "payload": payload, "verified": verified, "body": body})
                status = answers[min(len(got), len(answers)) - 1]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with http_server(Hook) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}/calls", got
