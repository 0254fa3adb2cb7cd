"""Every core by default (#21.3): the launcher runs a worker per core on a private redis-server, and leaves
nothing behind; without redis-server it runs one worker and says why."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import requests

from streams.machine import usable_cores
from tests.conftest import base_config
from tests.support.processes import stop
from tests.support.streaming import ROOT, call_args, free_port, get_call, run_emulator, wait_for, write_script

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None or usable_cores() < 2, reason="needs redis-server and 2 usable cores"
)


@contextmanager
def launched(tmp_path: Path, **env_extra: str) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """`python -m app.runtime.launcher` (what `make run` and `callstream serve` start), on a free port."""
    port = free_port()
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL=f"http://127.0.0.1:{port}", VOICE_ENABLED="0")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIOPIY_", "CALLSTREAM_"))}
    for name in ("REDIS_URL", "WEB_CONCURRENCY", "MAX_CALLS"):
        env.pop(name, None)
    env.update({k: str(v) for k, v in config.items()})
    env.update({"HOST": "127.0.0.1", "PORT": str(port), "ACCESS_LOG": "0", **env_extra})
    log_path = tmp_path / "launcher.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.runtime.launcher"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _live(url) or proc.poll() is not None, timeout=60, interval=0.1)
        assert proc.poll() is None, log_path.read_text(errors="replace")
        yield url, proc, log_path
    finally:
        stop(proc, timeout=30)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything of the group still there
        except ProcessLookupError:
            pass


def _live(url: str) -> bool:
    try:
        return requests.get(f"{url}/livez", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _family(pid: int) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """(redis-server processes, gunicorn workers) under the launcher ``pid``."""
    children = psutil.Process(pid).children()
    redis = [c for c in children if c.name() == "redis-server"]
    masters = [c for c in children if c.name() != "redis-server"]
    workers = [w for m in masters for w in m.children()]
    return redis, workers


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_worker_per_core_on_a_private_redis_takes_a_call_and_stops_it_all(tmp_path: Path) -> None:
    cores = int(usable_cores())
    with launched(tmp_path) as (url, proc, log_path):
        wait_for(lambda: len(_family(proc.pid)[1]) == cores, timeout=30)
        (redis,), workers = _family(proc.pid)
        socket_path = next(Path(tmp_path / "instance").glob("redis-*.sock"))
        assert socket_path.stat().st_mode & 0o077 == 0  # the socket is this user's only
        assert len(workers) == cores and requests.get(f"{url}/readyz", timeout=5).status_code == 200
        script = write_script(tmp_path, {"steps": [{"tone": 400}], "linger": 0.3})
        report = run_emulator(*call_args(url, script, "demo-en"), timeout=120)
        assert report["errors"] == [], report
        wait_for(lambda: get_call(url, report["call_id"])["state"] == "ended", timeout=20)

        proc.send_signal(signal.SIGTERM)  # what a supervisor sends: gunicorn drains, then Redis stops
        assert proc.wait(timeout=40) == 0, log_path.read_text(errors="replace")
    assert _gone(redis) and all(_gone(w) for w in workers) and not socket_path.exists()


def test_a_killed_launcher_leaves_no_orphan(tmp_path: Path) -> None:
    with launched(tmp_path) as (url, proc, _log):
        redis, workers = _family(proc.pid)
        masters = [c for c in psutil.Process(proc.pid).children() if c.name() != "redis-server"]
        proc.kill()  # no cleanup code runs in the launcher: its children are told by the kernel
        proc.wait(timeout=5)
        wait_for(lambda: all(_gone(p) for p in [*redis, *masters]), timeout=30)
    assert redis and masters


def test_without_redis_server_it_runs_one_worker_and_says_why(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    with launched(tmp_path, PATH=str(empty)) as (url, proc, log_path):
        time.sleep(1.0)  # time for a second worker, were one coming
        assert psutil.Process(proc.pid).name() != "redis-server" and not psutil.Process(proc.pid).children()[1:]
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200
        assert "no redis-server installed" in log_path.read_text(errors="replace")


def test_an_instance_path_too_long_for_a_unix_socket_gets_a_private_folder(tmp_path: Path) -> None:
    import redis as redis_client

    from app.runtime.launcher import PrivateRedis

    deep = tmp_path / ("x" * 60) / ("y" * 60)
    bus = PrivateRedis(shutil.which("redis-server") or "redis-server", deep)
    try:
        bus.wait_ready()
        assert bus.scratch is not None and bus.scratch.stat().st_mode & 0o077 == 0
        assert redis_client.Redis.from_url(bus.url).ping()
    finally:
        bus.stop()
    assert bus.proc.poll() is not None and not bus.scratch.exists()
