"""python -m bench.cluster: what Redis adds to a command, and calls spread over two nodes.

Two real services (gunicorn, one gevent worker each) share a redis-server and a
database, as two hosts would. One call streams on node A; the same commands
(pause/resume) are sent N times through A itself (the in-process path) and
through B (B -> Redis -> A -> Redis -> B), each timed end to end by the client,
in the same run. Then the emulator places calls through A's answer webhook and
the placement spreads them over both nodes; every frame sent must arrive.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from emulator.service import service_process
from emulator.wsclient import connect
from tests.conftest import API_KEY, WEBHOOK_TOKEN, base_config
from tests.support.redis_server import redis_server
from tests.support.streaming import call_id_of, run_emulator, stream_url, wait_for

HEADERS = {"Authorization": f"Bearer {API_KEY}"}
FRAME = b"\x01\x00" * 160


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)


def time_commands(url: str, call_id: str, count: int) -> list[float]:
    """Milliseconds per command (client-side, end to end), alternating pause and resume."""
    session = requests.Session()
    out = []
    for i in range(count):
        started = time.perf_counter()
        response = session.post(
            f"{url}/api/v1/calls/{call_id}/actions", json={"action": ("pause", "resume")[i % 2]}, headers=HEADERS
        )
        out.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return out


def spread(a_url: str, b_url: str, tmp: Path, calls: int) -> dict[str, Any]:
    caller = tmp / "caller.yaml"
    caller.write_text(json.dumps({"steps": [{"listen": 4}], "linger": 0, "max_seconds": 20}))
    summary = run_emulator(
        "load", "--calls", str(calls), "--ramp", "0.05", "--service", a_url, "--token", WEBHOOK_TOKEN,
        "--agent", "demo-en", "--script", str(caller), "--no-cdr", timeout=120,
    )  # fmt: skip
    per_node = {a_url: 0, b_url: 0}
    frames_in = 0
    for call_id in summary["call_ids"]:
        call = wait_for(
            lambda cid=call_id: (
                (c := requests.get(f"{a_url}/api/v1/calls/{cid}", headers=HEADERS, timeout=5).json())["state"]
                == "ended"
                and c
            ),
            timeout=30,
        )
        frames_in += call["stats"]["frames_in"]
        node = next(e["detail"]["url"] for e in call["timeline"] if e["kind"] == "node")
        per_node[node] += 1
    sent = summary["frames_sent"]
    return {"calls": calls, "on_a": per_node[a_url], "on_b": per_node[b_url], "frames_sent": sent,
            "frames_in": frames_in, "lost": sent - frames_in, "failed": summary["failed"]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder, redis_server(Path(folder)) as url:
        tmp = Path(folder)
        config = base_config(tmp, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0, REDIS_URL=url,
                             MAX_CALLS=args.calls)  # fmt: skip
        with service_process(config) as a, service_process(config) as b:
            ws_url = stream_url(a.url)
            call_id = call_id_of(ws_url)
            ws = connect(ws_url)
            ws.send(FRAME)
            wait_for(lambda: requests.get(f"{b.url}/api/v1/calls/{call_id}", headers=HEADERS, timeout=5).json()["live"])
            time_commands(a.url, call_id, 20)  # warm both paths
            time_commands(b.url, call_id, 20)
            local = time_commands(a.url, call_id, args.commands)
            routed = time_commands(b.url, call_id, args.commands)
            ws.close()
            result = {
                "in_process_ms": {"p50": _pct(local, 50), "p95": _pct(local, 95)},
                "through_redis_ms": {"p50": _pct(routed, 50), "p95": _pct(routed, 95)},
                "added_p95_ms": round(_pct(routed, 95) - _pct(local, 95), 2),
                "added_mean_ms": round(statistics.mean(routed) - statistics.mean(local), 2),
                "spread": spread(a.url, b.url, tmp, args.calls),
            }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
