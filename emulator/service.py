"""Run the real service (gunicorn, gevent worker, gunicorn.conf.py) on 127.0.0.1: for tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmulatorFailed(RuntimeError):
    pass


def run_emulator(*args: str, timeout: float = 600) -> dict[str, Any]:
    """Run `python -m emulator call|load …` to completion and return the JSON it prints (``--json`` is added).

    The exit status is not checked: a call whose expectations failed still has a report to look at.
    """
    if "--json" not in args:
        args = (*args, "--json")
    done = subprocess.run(
        [sys.executable, "-m", "emulator", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise EmulatorFailed(f"emulator failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-2000:]}") from None


@dataclass
class Service:
    url: str
    proc: subprocess.Popen
    log_path: str

    @property
    def master_pid(self) -> int:
        return self.proc.pid


@contextmanager
def service_process(
    config: dict[str, Any], *, startup: float = 30.0, app: str = "wsgi:app", root: Path = ROOT
) -> Iterator[Service]:
    """Start `gunicorn -c gunicorn.conf.py <app>` in ``root`` with ``config`` as its environment; stop it afterwards.

    ``root`` is this checkout unless a bench compares another one (an older commit's worktree).

    ``PUBLIC_URL="auto"`` becomes the server's own address, so the stream URLs it hands out work.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIOPIY_", "CALLSTREAM_"))}
    env.update({k: str(v) for k, v in config.items()})
    env.update({"HOST": "127.0.0.1", "PORT": str(port), "ACCESS_LOG": "0"})
    if env.get("PUBLIC_URL") == "auto":
        env["PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    logfile = tempfile.NamedTemporaryFile(prefix="callstream-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [str(gunicorn), "-c", "gunicorn.conf.py", app],
        cwd=root,
        env=env,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"service exited early:\n{Path(logfile.name).read_text(errors='replace')}")
            try:
                if requests.get(f"{url}/livez", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("service did not become healthy in time")
            time.sleep(0.1)
        yield Service(url, proc, logfile.name)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        logfile.close()
        print(f"service log: {logfile.name}")


@contextmanager
def running_service(config: dict[str, Any], *, startup: float = 30.0) -> Iterator[str]:
    """The service's base URL, for as long as the block runs."""
    with service_process(config, startup=startup) as service:
        yield service.url
