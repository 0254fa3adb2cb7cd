"""LOG_FORMAT=json on a real gunicorn (#22.5): every line is one JSON object, gunicorn's own lines too."""

from __future__ import annotations

import json
from pathlib import Path

from emulator.service import service_process
from emulator.wsclient import connect
from tests.conftest import base_config
from tests.support.streaming import call_id_of, stream_url, wait_for

FRAME = b"\x00\x00" * 160


def test_every_line_is_json_with_the_call_as_fields(tmp_path: Path) -> None:
    config = base_config(
        tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0, LOG_FORMAT="json", NODE_NAME="node-j"
    )
    with service_process(config, startup=20) as service:
        url = stream_url(service.url)
        call_id = call_id_of(url)
        ws = connect(url)
        ws.send(FRAME)
        log = Path(service.log_path)
        wait_for(lambda: "stream open" in log.read_text(errors="replace"), timeout=10)
        ws.close()
    records = [json.loads(line) for line in log.read_text(errors="replace").splitlines() if line.strip()]
    opened = next(r for r in records if "stream open" in r["message"])
    assert (opened["call_id"], opened["agent"], opened["node"]) == (call_id, "demo-en", "node-j")
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in records)
