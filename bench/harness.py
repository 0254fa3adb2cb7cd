"""The service and the emulator as the benchmarks drive them: config, agents, load runs, worker sampling."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psutil
import requests
import yaml

from emulator.service import ROOT, Service, run_emulator, service_process

TOKEN = "bench-webhook-token"
API_KEY = "bench-api-key"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}
HANGOVER_MS = 300
GOALS = {
    "answer_ratio": 0.8,  # for information only: what Piopiy feels is the webhook's p99 under load
    "webhook_p99_ms": 50,
    "phrase_calls": 100,
    "phrase_cpu_pct_per_call": 1.0,
    "free_calls": 12,
    "latency_p50_1": 350,
    "latency_p95_50": 450,
    "work_p95_10": 50,
    "work_p95_50": 100,
    "bargein_p95": 150,
}


def config(tmp: Path, **extra: Any) -> dict[str, Any]:
    return {
        "CALLSTREAM_ENV": "production",
        "SECRET_KEY": "bench-secret",
        "WEBHOOK_TOKEN": TOKEN,
        "API_KEY": API_KEY,
        "PUBLIC_URL": "auto",
        "PIOPIY_APP_ID": "1",
        "PIOPIY_APP_SECRET": "x",
        "PIOPIY_NUMBER": "919000000000",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "INSTANCE_DIR": str(tmp / "instance"),
        "MAX_CALLS": 400,
        "LOG_LEVEL": "WARNING",
        "IDLE_TIMEOUT": 60,
        "API_RATE_LIMIT": "off",  # a load step reads every call's record from one address
        "ADMIT_HIGH": 2,  # admission off (load never passes 1): a step measures what the service carries (#21.1)
        **extra,
    }


def bench_agents(tmp: Path) -> Path:
    """demo-ko without its DTMF menu, as a phrase-grammar agent and a free-speech agent.

    Misheard turns get the fallback line as their reply, never a handoff (``max_misses``), so a free-speech
    caller keeps talking to the bot for the whole step."""
    folder = tmp / "agents"
    folder.mkdir(exist_ok=True)
    base = yaml.safe_load((ROOT / "agents" / "demo-ko.yaml").read_text())
    base.pop("dtmf_menu", None)
    base["max_misses"] = 1_000_000
    for name, number, grammar in (("bench-phrase", "918000000101", True), ("bench-free", "918000000102", False)):
        agent = {**base, "name": name, "numbers": [number], "grammar": grammar}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(agent, allow_unicode=True))
    return folder


def script(tmp: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def load(
    svc: Service,
    agents: Path,
    agent: str,
    caller_script: Path,
    calls: int,
    *,
    seconds: float | None = None,
    ramp: float = 0.1,
    timeout: float = 300,
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """`python -m emulator load` against ``svc``; its summary. ``extra``: more emulator flags (``--no-deflate``)."""
    args = [
        "load",
        "--calls",
        str(calls),
        "--ramp",
        str(ramp),
        "--service",
        svc.url,
        "--token",
        TOKEN,
        "--agent",
        agent,
        "--agents-dir",
        str(agents),
        "--script",
        str(caller_script),
        "--no-cdr",
        *extra,
    ]
    if seconds:
        args += ["--seconds", str(seconds)]
    if os.environ.get("BENCH_REPORTS"):  # keep every call's emulator report, to see why a step failed
        args += ["--out", os.path.join(os.environ["BENCH_REPORTS"], f"{agent}-{calls}-{time.strftime('%H%M%S')}")]
    return run_emulator(*args, timeout=timeout)


@contextmanager
def voice_service(
    tmp: Path, agents: Path, root: Path = ROOT, workers: int = 1, admission: bool = False
) -> Iterator[Service]:
    """The service (from the checkout ``root``) with the bench agents, once its speech model has loaded.

    With ``workers`` > 1: that many gunicorn workers on a redis-server of their own, as ``make run``
    starts on a box with as many cores (app/runtime/launcher.py). With ``admission``, the ``ADMIT_*``
    defaults and no ``MAX_CALLS``, as a deploy has them (else a step measures what the service carries)."""
    with ExitStack() as stack:
        extra: dict[str, Any] = {}
        if workers > 1:
            from tests.support.redis_server import redis_server

            extra = {"REDIS_URL": stack.enter_context(redis_server(tmp)), "WEB_CONCURRENCY": workers}
        settings = config(tmp, AGENTS_DIR=str(agents), **extra)
        if admission:
            del settings["ADMIT_HIGH"], settings["MAX_CALLS"]
        svc = stack.enter_context(service_process(settings, startup=60, root=root))
        while not requests.get(f"{svc.url}/healthz", timeout=5).json()["stt"].get("loaded"):
            time.sleep(0.5)
        # And until the warm-up is done (TTS cache, warm recognisers: STT_WARM_FREE), on every worker: a step
        # started while it runs measures the warm-up. /readyz is 200 only then; five in a row reach each worker.
        deadline, ready = time.monotonic() + 300, 0
        while ready < 5 and time.monotonic() < deadline:
            ok = requests.get(f"{svc.url}/readyz", timeout=5).status_code == 200
            ready = ready + 1 if ok else 0
            time.sleep(0.1 if ok else 0.5)
        yield svc


class Sampler:
    """CPU% and RSS of the gunicorn workers (summed, when there are several), once a second, in a thread; and the
    busiest worker's event-loop thread (its main thread: what one worker's Python can use is one core)."""

    def __init__(self, service: Service) -> None:
        master = psutil.Process(service.master_pid)
        self.workers = master.children()
        self.worker = self.workers[0]
        self.cpu: list[float] = []
        self.rss: list[int] = []
        self.loop: list[float] = []
        self._loop_cpu = {w.pid: _main_thread_cpu(w) for w in self.workers}
        self._stop = threading.Event()
        for worker in self.workers:
            worker.cpu_percent(None)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.cpu.append(sum(worker.cpu_percent(None) for worker in self.workers))
            self.rss.append(sum(worker.memory_info().rss for worker in self.workers))
            busiest = 0.0
            for worker in self.workers:
                cpu = _main_thread_cpu(worker)
                busiest = max(busiest, cpu - self._loop_cpu[worker.pid])
                self._loop_cpu[worker.pid] = cpu
            self.loop.append(100 * busiest)  # seconds of CPU in ~1 s: % of one core

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def rss_now(self) -> int:
        return sum(worker.memory_info().rss for worker in self.workers)


def _main_thread_cpu(worker: psutil.Process) -> float:
    """CPU seconds of ``worker``'s main thread, where gevent's loop runs (vosk and the database have threads of
    their own)."""
    try:
        return next((t.user_time + t.system_time for t in worker.threads() if t.id == worker.pid), 0.0)
    except psutil.Error:
        return 0.0


def runtime(url: str, reset: bool = False) -> dict[str, Any]:
    return requests.get(
        f"{url}/api/v1/runtime", params={"reset": "1"} if reset else {}, headers=HEADERS, timeout=10
    ).json()


def recognizers_made(url: str) -> int:
    """Recognisers the worker answering /healthz has made so far: on demand by calls, and by its reserve.

    A step that makes some pays ~2.7 s of CPU for each free-speech one (exact with one worker)."""
    stt = requests.get(f"{url}/healthz", headers=HEADERS, timeout=10).json().get("stt", {})
    return int(stt.get("recognizers", {}).get("created", 0)) + int(stt.get("reserve", {}).get("made", 0))


def call_stats(url: str, call_ids: list[str]) -> dict[str, int]:
    frames = dropped = 0
    for call_id in call_ids:
        if not call_id:
            continue
        stats = requests.get(f"{url}/api/v1/calls/{call_id}", headers=HEADERS, timeout=10).json().get("stats") or {}
        frames += stats.get("frames_in", 0)
        dropped += sum(stats.get("dropped", {}).values())
    return {"frames_in": frames, "dropped": dropped}


def unanswered_turns(url: str) -> int:
    """``callstream_unanswered_turns`` from /metrics: turns whose reply never started (0 when all is well)."""
    text = requests.get(f"{url}/metrics", headers=HEADERS, timeout=10).text
    for line in text.splitlines():
        if line.startswith("callstream_unanswered_turns") and not line.startswith("#"):
            return int(float(line.split()[-1]))
    return 0


def wait_idle(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while runtime(url)["sessions"] and time.monotonic() < deadline:
        time.sleep(0.5)
