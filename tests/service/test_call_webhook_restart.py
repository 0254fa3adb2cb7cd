"""The post-call webhook survives a killed service (#23.2): the outbox is in the database.

A real service (gunicorn) takes a call over its socket; the call is hung up over
the API; the receiver (127.0.0.1, verifying with the `standardwebhooks` library)
answers 503, so the call.ended row stays pending. The service is killed
(SIGKILL: no shutdown hook), the receiver starts answering 204, a new service on
the same database sends the event: delivered once, same message id.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from emulator.service import service_process
from emulator.wsclient import connect
from streams.session.signed_post import new_secret
from tests.conftest import base_config
from tests.support.streaming import act, call_id_of, get_call, stream_url, wait_for
from tests.support.webhook_receiver import receiver

FRAME = b"\x01\x00" * 160
SECRET = new_secret()


def webhook_state(service: str, call_id: str) -> tuple[str, int] | None:
    rows = get_call(service, call_id).get("webhooks") or []
    return (rows[0]["state"], rows[0]["attempts"]) if rows else None


def test_a_pending_call_webhook_is_delivered_once_after_the_service_was_killed(tmp_path: Path) -> None:
    answers = [503]
    with receiver(SECRET, answers) as (url, got):
        config = base_config(
            tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOSK_MODEL_PATH="off", TTS_WORKERS=1,
            CALL_WEBHOOK_URL=url, WEBHOOK_SIGNING_SECRET=SECRET,
        )  # fmt: skip
        with service_process(config, startup=60) as service:
            stream = stream_url(service.url)
            call_id = call_id_of(stream)
            ws = connect(stream)
            ws.send(FRAME)
            wait_for(lambda: get_call(service.url, call_id)["state"] == "live")
            assert act(service.url, call_id, action="hangup").status_code == 200
            wait_for(lambda: (webhook_state(service.url, call_id) or ("", 0))[1] >= 1, timeout=20)
            assert webhook_state(service.url, call_id)[0] == "pending" and all(r["verified"] for r in got)
            os.killpg(service.proc.pid, signal.SIGKILL)
            service.proc.wait(timeout=10)
        answers[:] = [503] * len(got) + [204]
        with service_process(config, startup=60) as service:
            wait_for(lambda: webhook_state(service.url, call_id) == ("delivered", len(got)), timeout=30)
            time.sleep(2.5)  # a second delivery would come within a pass or two
            assert webhook_state(service.url, call_id)[0] == "delivered"
    accepted = [r for i, r in enumerate(got) if answers[min(i + 1, len(answers)) - 1] == 204]
    assert len(accepted) == 1 and accepted[0]["payload"]["data"]["call_id"] == call_id
    assert len({r["headers"]["webhook-id"] for r in got}) == 1 and all(r["verified"] for r in got)
