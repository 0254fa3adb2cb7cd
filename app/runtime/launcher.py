"""Every core of one box by default (#21.3): ``make run`` and ``callstream serve`` start here.

Several gevent workers need a bus to reach each other's calls (app/runtime/cluster.py
speaks Redis). With neither ``REDIS_URL`` nor ``WEB_CONCURRENCY`` set and more than one
usable core (affinity and cgroup quota: app/runtime/load.py), the launcher starts a
private ``redis-server`` (Debian's package) on a unix socket in ``instance/`` (no port to
collide with, nothing listening on the network, the socket only for this user; nothing
saved to disk), runs gunicorn with one worker per core on it, and stops it when gunicorn
exits. Why Redis and not another bus: the cluster already uses it for several hosts, so
one host's workers take the same, tested path, and the package is one ``apt-get`` away.

The rest is left as it was: an explicit ``REDIS_URL`` or ``WEB_CONCURRENCY`` wins (a
PaaS's ``WEB_CONCURRENCY`` without Redis keeps gunicorn.conf.py's fallback: one worker
and a warning); one core runs one worker; no ``redis-server`` installed runs one worker
and says so. Both children die with the launcher (``PR_SET_PDEATHSIG``), so even a
killed launcher leaves no orphan Redis; SIGTERM and SIGINT go to gunicorn, which drains.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.cli import gunicorn_command
from app.config import load_config, load_env_file
from streams.machine import usable_cores

log = logging.getLogger("callstream.launcher")
SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes on Linux
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


@dataclass(frozen=True)
class Plan:
    workers: int | None  # None: as gunicorn.conf.py decides from the environment
    private_redis: bool
    note: str


def plan(config: Mapping[str, object], cores: float, redis_server: str | None) -> Plan:
    """What to start for this machine and configuration."""
    if config["REDIS_URL"] or config["WEB_CONCURRENCY"]:
        return Plan(None, False, "REDIS_URL or WEB_CONCURRENCY is set: as configured")
    workers = max(1, int(cores))
    if workers == 1:
        return Plan(None, False, "one usable core: one worker")
    if redis_server is None:
        return Plan(None, False, f"{workers} cores but no redis-server installed (apt-get install redis-server): "
                    "one worker")  # fmt: skip
    return Plan(workers, True, f"{workers} cores: {workers} workers on a private redis-server")


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the launcher dies, however it dies (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):  # pragma: no cover - not Linux: the launcher's own cleanup still runs
        pass


class PrivateRedis:
    """``redis-server`` on a unix socket in ``folder``, for this launcher only."""

    def __init__(self, binary: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.socket = folder / f"redis-{os.getpid()}.sock"
        self.scratch: Path | None = None
        if len(str(self.socket)) > SOCKET_PATH_MAX:  # a unix socket's path is short: a private 0700 folder instead
            self.scratch = Path(tempfile.mkdtemp(prefix="callstream-"))
            self.socket = self.scratch / "redis.sock"
        args = [binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700", "--save", "",
                "--appendonly", "no", "--dir", str(folder), "--loglevel", "warning"]  # fmt: skip
        self.proc = subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509
        # its own session: a terminal's Ctrl-C reaches gunicorn, which drains; Redis goes after it

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def wait_ready(self, limit: float = 10.0) -> None:
        import redis

        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited at start ({self.proc.returncode})")
            try:
                redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping()
                return
            except (redis.RedisError, OSError):
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.socket.unlink(missing_ok=True)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def serve(args: Sequence[str]) -> int:
    """Start what ``plan`` says; return gunicorn's exit status."""
    config = load_config()
    chosen = plan(config, usable_cores(), shutil.which("redis-server"))
    log.log(logging.WARNING if "redis-server" in chosen.note and not chosen.private_redis else logging.INFO,
            "callstream: %s", chosen.note)  # fmt: skip
    command = gunicorn_command(args)
    if not chosen.private_redis:
        os.execv(command[0], command)  # nothing to clean up after: gunicorn becomes this process
    bus = PrivateRedis(shutil.which("redis-server") or "redis-server", Path(config["INSTANCE_DIR"]))
    try:
        bus.wait_ready()
    except RuntimeError as exc:
        bus.stop()
        log.warning("callstream: the private redis-server did not start (%s): one worker", exc)
        os.execv(command[0], command)
    try:
        env = {**os.environ, "REDIS_URL": bus.url, "WEB_CONCURRENCY": str(chosen.workers)}
        server = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509
        for signum in FORWARDED:
            signal.signal(signum, lambda got, _frame: server.send_signal(got))
        return server.wait()
    finally:
        bus.stop()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    load_env_file()
    return serve(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
