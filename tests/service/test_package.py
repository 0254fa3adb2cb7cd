"""An installable package (#22.4): the wheel installed into a fresh venv, then `callstream serve` answers.

Offline and fast: the wheel is built without build isolation (the shared venv's setuptools and wheel),
installed with --no-deps, and the fresh venv sees the shared venv's dependencies through a .pth file.
The package's own code and files come only from the fresh venv (its cwd holds nothing of the checkout).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import site
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from emulator.service import ROOT, free_port
from tests.conftest import base_config

LEFT_OUT = shutil.ignore_patterns(
    ".venv", "models", "instance", ".git", "__pycache__", "tests", "docs", "results", "*.egg-info", "build", ".env"
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the callstream wheel installed; returns its bin/ folder."""
    base = tmp_path_factory.mktemp("package")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=LEFT_OUT, symlinks=True)  # the build writes into its source tree
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run = {"check": True, "capture_output": True, "text": True, "timeout": 300}
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "wheels"), str(source)], **run)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], **run)
    wheel = next((base / "wheels").glob("callstream-*.whl"))
    subprocess.run([*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index", wheel], **run)
    shared = Path(site.getsitepackages()[0]).resolve()
    (next(venv.glob("lib/python3*/site-packages")) / "shared-dependencies.pth").write_text(f"{shared}\n")
    return venv / "bin"


@contextmanager
def callstream_serve(bin_dir: Path, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port), "ACCESS_LOG": "0"}
    log = open(cwd / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(bin_dir / "callstream"), "serve"], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (cwd / "serve.log").read_text(errors="replace")
            try:
                if requests.get(f"{url}/livez", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, (cwd / "serve.log").read_text(errors="replace")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()


def _environment(tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    config = base_config(tmp_path, "http://127.0.0.1:1", VOICE_ENABLED=0, MAX_CALLS=9)
    for name in ("AGENTS_DIR", "DEFAULT_AGENT", "INSTANCE_DIR", "DATABASE_URL"):
        config.pop(name)  # the installed package's own defaults
    return {**keep, **{k: str(v) for k, v in config.items()}}


def test_pip_install_then_callstream_serve_answers(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    found = subprocess.run(
        [str(installed / "python"), "-c", "import app; print(app.__file__)"], cwd=work, capture_output=True, text=True
    )
    assert found.stdout.startswith(str(installed.parent)), found  # the installed copy, not the checkout
    (work / ".env").write_text("DEFAULT_AGENT=demo-ko   # from the file\nMAX_CALLS=7\n")
    with callstream_serve(installed, work, _environment(tmp_path)) as url:
        assert requests.get(f"{url}/livez", timeout=5).json()["status"] == "alive"
        ready = requests.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["calls"]["max"] == 9  # the environment wins over .env
        health = requests.get(f"{url}/healthz", timeout=5).json()
        assert health["agents"]["default"] == "demo-ko"  # read from .env
        assert health["agents"]["loaded"] == ["demo-en", "demo-ko"]  # the shipped agents
        assert requests.get(f"{url}/login", timeout=5).status_code == 200  # the shipped templates
        assert requests.get(f"{url}/static/callstream.css", timeout=5).status_code == 200
        env = {**_environment(tmp_path), "CALLSTREAM_URL": url}  # the secrets too: from the environment only
        called = subprocess.run(
            [str(installed / "callstream"), "call", "--agent", "demo-en", "--json", "--out", str(tmp_path / "out")],
            cwd=work, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert json.loads(called.stdout)["call_id"], called.stderr  # the shipped agents, dialled by the emulator
    assert (work / "instance" / "callstream.db").is_file()  # written in the cwd, migrations shipped


def test_callstream_without_a_command_prints_its_usage(installed: Path) -> None:
    done = subprocess.run([str(installed / "callstream")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "callstream serve" in done.stderr
