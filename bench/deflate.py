"""Does a client that offers permessage-deflate cost the service anything? (#20: it did, 75% -> 97% of a core)

FreeSWITCH's mod_audio_stream offers permessage-deflate by default. The service declines it on stream sockets
(20 ms of PCM does not compress, and an accepted extension switches the frame fast path off), so a caller whose
socket offers it must cost exactly what one that does not costs. One service, one run: phrase-grammar steps of
``calls`` calls, alternately without the offer and with it (so drift on the box shows as a
difference between rounds, not between modes), three rounds each, each judged as the capacity bench judges a step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.capacity import Sampler, step, step_line
from bench.harness import bench_agents, voice_service

MODES = (("plain", ("--no-deflate",)), ("deflate offered", ()))


def bench_deflate(tmp: Path, calls: int, seconds: float, rounds: int = 3) -> dict[str, Any]:
    """Service CPU and reply latency with and without the offer; ``ratio``: offered / plain mean CPU."""
    agents = bench_agents(tmp)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in MODES}
    with voice_service(tmp, agents) as svc:
        idle_rss = Sampler(svc).rss_now()
        for r in range(rounds):
            for name, extra in MODES:
                row = step(svc, agents, "bench-phrase", tmp, calls, seconds, idle_rss, extra=extra)
                rows[name].append(row)
                print(f"  round {r + 1}, {name:<16} {calls} calls: {step_line(row)}", flush=True)
    cpu = {name: round(sum(r["cpu_pct_mean"] for r in got) / len(got), 1) for name, got in rows.items()}
    return {
        "calls": calls,
        "seconds": seconds,
        "cpu_pct_mean": cpu,
        "ratio": round(cpu["deflate offered"] / cpu["plain"], 3) if cpu["plain"] else None,
        "rows": rows,
    }
