"""Helpers for tests that drive the real service over the stream socket and through the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml
from simple_websocket import Client, ConnectionClosed

from emulator.service import ROOT, free_port, run_emulator, running_service  # noqa: F401 - run_emulator: re-exported
from tests.conftest import API_KEY, WEBHOOK_TOKEN, base_config
from tests.support.processes import stop

HEADERS = {"Authorization": f"Bearer {API_KEY}"}


def answer(service: str, to: str = "919111111111", cmiuuid: str | None = None) -> list[dict[str, Any]]:
    body = {"from": "919876543210", "to": to, "time": "now", "cmiuuid": cmiuuid or f"t-{time.monotonic_ns()}"}
    response = requests.post(f"{service}/webhooks/piopiy/answer", params={"token": WEBHOOK_TOKEN}, json=body, timeout=5)
    response.raise_for_status()
    return response.json()


def stream_url(service: str, **kwargs: Any) -> str:
    return next(a["ws_url"] for a in answer(service, **kwargs) if a["action"] == "stream")


def call_id_of(url: str) -> str:
    return url.split("?")[0].rsplit("/", 1)[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def get_call(service: str, call_id: str) -> dict[str, Any]:
    return requests.get(f"{service}/api/v1/calls/{call_id}", headers=HEADERS, timeout=5).json()


def act(service: str, call_id: str, **action: Any) -> requests.Response:
    return requests.post(f"{service}/api/v1/calls/{call_id}/actions", json=action, headers=HEADERS, timeout=5)


def runtime(service: str) -> dict[str, Any]:
    return requests.get(f"{service}/api/v1/runtime", headers=HEADERS, timeout=5).json()


def drain(ws: Client, seconds: float) -> list[Any]:
    """Everything the service sends in ``seconds`` (text parsed as JSON)."""
    out: list[Any] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            message = ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed:
            break
        if message is not None:
            out.append(json.loads(message) if isinstance(message, str) else message)
    return out


def closed_with(ws: Client, timeout: float = 5.0) -> tuple[int | None, str | None]:
    deadline = time.monotonic() + timeout
    while ws.connected and time.monotonic() < deadline:
        try:
            ws.receive(timeout=0.1)
        except ConnectionClosed:
            break
    return (int(ws.close_reason) if ws.close_reason else None), ws.close_message


def write_script(folder: Path, data: dict[str, Any], name: str = "caller.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def emulator_args(verb: str, service: str, script: Path, *extra: str) -> list[str]:
    """`python -m emulator <verb>` against ``service``, as this suite's platform (its webhook token)."""
    return [verb, "--service", service, "--token", WEBHOOK_TOKEN, "--script", str(script), *extra]


def call_args(
    service: str, script: Path, agent: str = "demo-ko", agents_dir: Path | None = None, out: Path | None = None
) -> list[str]:
    """The arguments of `python -m emulator call --json` for an inbound call to ``agent``."""
    args = [*emulator_args("call", service, script), "--json", "--agent", agent]
    args += ["--agents-dir", str(agents_dir or ROOT / "agents")]  # never a stray $AGENTS_DIR
    if out is not None:
        args += ["--out", str(out)]
    return args


def start_call(service: str, script: Path, agent: str = "demo-ko", agents_dir: Path | None = None) -> subprocess.Popen:
    """`python -m emulator call --json …` in the background; its JSON report comes on stdout."""
    args = [sys.executable, "-m", "emulator", *call_args(service, script, agent, agents_dir)]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def emulator_process(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m emulator …` to completion, with ``env`` added to the environment: its exit status and output."""
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def emulator_running(*args: str) -> Iterator[subprocess.Popen]:
    """Run `python -m emulator …` in the background; stop it at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield proc
    finally:
        stop(proc)


@contextmanager
def emulated_platform(service: str, script: Path, port: int | None = None, **extra: str) -> Iterator[str]:
    """`python -m emulator serve` (on ``port`` or a free one): the REST host outbound calls go to."""
    port = port or free_port()
    args = [*emulator_args("serve", service, script), "--port", str(port)]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", value]
    with emulator_running(*args) as proc:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"emulator exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                return requests.get(f"{url}/_emulator/health", timeout=1).ok
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=20)
        yield url


def wait_until_hearing(url: str, timeout: float = 60) -> None:
    """Until the service at ``url`` has its speech models loaded (a voice test's first call is then heard)."""
    wait_for(lambda: requests.get(f"{url}/healthz", timeout=5).json()["stt"]["loaded"], timeout=timeout)


def agents_folder(folder: Path, *agents: dict[str, Any], shipped: bool = True) -> Path:
    """``folder`` with the shipped agents (unless ``shipped`` is False) and ``agents``, one YAML file each."""
    if shipped:
        for path in (ROOT / "agents").glob("*.yaml"):
            (folder / path.name).write_bytes(path.read_bytes())
    for agent in agents:
        (folder / f"{agent['name']}.yaml").write_text(yaml.safe_dump(agent, allow_unicode=True))
    return folder


def demo_ko(**changes: Any) -> dict[str, Any]:
    """The shipped Korean demo agent, changed (``dtmf_menu=None`` drops its menu: the bot answers at once)."""
    agent = yaml.safe_load((ROOT / "agents" / "demo-ko.yaml").read_text())
    agent.update(changes)
    return {k: v for k, v in agent.items() if v is not None}


@contextmanager
def voice_service(tmp: Path, agents_dir: Path, **config: Any) -> Iterator[str]:
    """The real service (gunicorn, gevent) with ``agents_dir``'s agents, once it can hear: its URL."""
    settings = base_config(tmp, "http://127.0.0.1:1", PUBLIC_URL="auto", AGENTS_DIR=str(agents_dir), **config)
    with running_service(settings) as url:
        wait_until_hearing(url)
        yield url
