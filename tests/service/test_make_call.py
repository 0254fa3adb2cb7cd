"""`make call` hands the emulator its secrets through the environment, never its command line (#22.6)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from emulator.service import ROOT, service_process
from tests.conftest import API_KEY, WEBHOOK_TOKEN, base_config


def _session_command_lines(sid: int) -> dict[int, str]:
    """pid -> command line of every process in session ``sid`` (make and all it started)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # state, ppid, pgrp, session
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_make_call_puts_no_secret_on_a_command_line(tmp_path: Path) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0)
    script = tmp_path / "caller.yaml"
    script.write_text("steps:\n  - listen: 2\nmax_seconds: 10\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIOPIY_", "CALLSTREAM_", "MAKEFLAGS", "MFLAGS"))}
    env.update({"WEBHOOK_TOKEN": WEBHOOK_TOKEN, "API_KEY": API_KEY})
    with service_process(config, startup=20) as service:
        port = service.url.rsplit(":", 1)[1]
        make = subprocess.Popen(
            ["make", "-s", "-o", "setup", "call", "HOST=127.0.0.1", f"PORT={port}", f"SCRIPT={script}",
             f"ARGS=--json --out {tmp_path / 'out'}"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        seen: set[str] = set()  # every command line seen (a pid's changes at exec, and empties as it exits)
        deadline = time.monotonic() + 60
        while make.poll() is None and time.monotonic() < deadline:
            seen.update(_session_command_lines(make.pid).values())
            time.sleep(0.02)
        out, err = make.communicate(timeout=30)
    assert any("-m emulator call" in line for line in seen), (seen, err)
    for line in seen:
        assert WEBHOOK_TOKEN not in line and API_KEY not in line, line
    report = json.loads(out)
    assert report["call_id"], report  # the token from the environment opened the call
