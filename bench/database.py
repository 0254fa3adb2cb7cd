"""python -m bench.database: does a slow or locked database stall live calls? SQLite and PostgreSQL.

For each engine, one real service (gunicorn, one gevent worker) holds ``--calls``
live calls, each streaming a 20 ms frame every 20 ms from the client. A client
thread sends pause/resume commands back to back: each stores a timeline line.
Two phases of ``--seconds`` each: the database free, then locked by another
client (SQLite: BEGIN EXCLUSIVE on the file; PostgreSQL: LOCK TABLE timeline),
so every write waits for the lock. The service's own loop-lag monitor
(``/api/v1/runtime``, streams/loopwatch.py) says whether the event loop was
blocked meanwhile; command times say what the writes cost. Also: sequential
answer webhooks per second (each stores a call and its first timeline lines).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

from emulator.service import service_process
from emulator.wsclient import connect
from tests.conftest import API_KEY, base_config
from tests.support.postgres_server import hold_lock, postgres_server
from tests.support.streaming import answer, call_id_of, stream_url, wait_for

HEADERS = {"Authorization": f"Bearer {API_KEY}"}
FRAME = b"\x01\x00" * 160


def _stream(sockets: list, stop: threading.Event) -> None:
    while not stop.is_set():
        for ws in sockets:
            ws.send(FRAME)
        time.sleep(0.02)


def _commands(url: str, call_id: str, stop: threading.Event, out: list[float]) -> None:
    session = requests.Session()
    i = 0
    while not stop.is_set():
        started = time.perf_counter()
        body = {"action": ("pause", "resume")[i % 2]}
        session.post(f"{url}/api/v1/calls/{call_id}/actions", json=body, headers=HEADERS)
        out.append((time.perf_counter() - started) * 1000)
        i += 1


def phase(url: str, call_id: str, seconds: float, lock_url: str | None) -> dict[str, Any]:
    """Commands for ``seconds`` (the database locked throughout, if ``lock_url``): loop lag and command times."""
    held = threading.Event()
    locker = None
    if lock_url:
        locker = threading.Thread(target=hold_lock, args=(lock_url, seconds, held))
        locker.start()
        held.wait(10)
    requests.get(f"{url}/api/v1/runtime", params={"reset": "1"}, headers=HEADERS, timeout=5)
    stop, times = threading.Event(), []
    worker = threading.Thread(target=_commands, args=(url, call_id, stop, times))
    worker.start()
    time.sleep(seconds)
    lag = requests.get(f"{url}/api/v1/runtime", headers=HEADERS, timeout=5).json()["loop_lag"]
    stop.set()
    worker.join(15)
    if locker is not None:
        locker.join(15)
    return {"loop_lag": lag, "commands": len(times), "command_p50_ms": round(statistics.median(times), 1)}


def answers_per_second(url: str, seconds: float = 3.0) -> float:
    count, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer(url)
        count += 1
    return round(count / seconds, 1)


def run_engine(engine: str, tmp: Path, calls: int, seconds: float) -> dict[str, Any]:
    with ExitStack() as stack:
        if engine == "postgresql":
            server = stack.enter_context(postgres_server())
            db_url = server.url(server.create_database())
        else:
            db_url = f"sqlite:///{tmp / engine / 'bench.db'}"
        config = base_config(tmp / engine, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0,
                             DATABASE_URL=db_url, MAX_CALLS=calls + 10)  # fmt: skip
        service = stack.enter_context(service_process(config))
        urls = [stream_url(service.url) for _ in range(calls)]
        sockets = [connect(u) for u in urls]
        stop = threading.Event()
        streamer = threading.Thread(target=_stream, args=(sockets, stop), daemon=True)
        streamer.start()
        call_id = call_id_of(urls[0])
        wait_for(lambda: requests.get(f"{service.url}/api/v1/calls/{call_id}", headers=HEADERS).json()["live"])
        result = {
            "free": phase(service.url, call_id, seconds, None),
            "locked": phase(service.url, call_id, seconds, db_url),
            "answers_per_s": answers_per_second(service.url),
        }
        stop.set()
        streamer.join(5)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.database", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for engine in ("sqlite", "postgresql"):
            result = run_engine(engine, Path(folder), args.calls, args.seconds)
            for name in ("free", "locked"):
                row, lag = result[name], result[name]["loop_lag"]
                print(
                    f"{engine:10} {name:6} {args.calls} calls: loop lag p50 {lag.get('p50_ms')} ms, "
                    f"p99 {lag.get('p99_ms')} ms, max {lag.get('max_ms')} ms; {row['commands']} commands, "
                    f"p50 {row['command_p50_ms']} ms"
                )
            print(f"{engine:10} answer webhooks, one at a time: {result['answers_per_s']}/s")


if __name__ == "__main__":
    main()
