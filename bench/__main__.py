"""python -m bench [answer|calls|latency|bargein|all] [--quick]: measure the service.

Runs the real service as the Procfile does (gunicorn, one gevent worker, on
127.0.0.1), drives it with the emulator, prints one table and writes JSON
(with the machine's core count and the commit) to bench/results/.

  answer   requests/s of POST /webhooks/piopiy/answer vs a bare Flask view (same server, same run), via wrk
  calls    concurrent calls streaming speech in real time, phrase grammar and free speech:
           STT lag p50/p95/p99, frames dropped, CPU%, RSS, RSS per call, event-loop lag p99
  latency  reply latency (end of caller speech -> first reply byte) at 1, 10 and 50 calls
  bargein  caller speech during a reply -> break on the wire
  turns    turn-taking: Silero VAD and the Smart Turn model against the energy VAD, on a generated test set
           (reply latency, paused utterances cut, noise taken for speech, CPU per turn); see bench/turns.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from emulator.service import ROOT

from .harness import GOALS
from .report import commit, table
from .steps import bench_answer, bench_bargein, bench_calls, bench_latency
from .turns import bench_turns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "what", nargs="*", help="all (default), answer, calls (= phrase + free), phrase, free, latency, bargein, turns"
    )
    parser.add_argument("--quick", action="store_true", help="short runs and few steps (a smoke test, not figures)")
    parser.add_argument("--seconds", type=float, help="seconds each concurrent call streams (default 30)")
    parser.add_argument("--cold", action="store_true", help="no warm-up before each call step (fresh recognisers)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args(argv)
    what = set(args.what or ["all"])
    unknown = what - {"all", "answer", "calls", "phrase", "free", "latency", "bargein", "turns"}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if "all" in what:
        what = {"answer", "phrase", "free", "latency", "bargein", "turns"}
    if "calls" in what:
        what |= {"phrase", "free"}
    seconds = args.seconds or (8 if args.quick else 30)
    results: dict[str, Any] = {
        "commit": commit(),
        "cores": os.cpu_count(),
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "python": sys.version.split()[0],
        "quick": args.quick,
        "goals": GOALS,
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_name:
        tmp = Path(tmp_name)
        if "answer" in what:
            print("answer webhook …", flush=True)
            results["answer"] = bench_answer(tmp, args.quick)
        if "phrase" in what:
            print("concurrent calls, phrase grammar …", flush=True)
            steps = [5, 10] if args.quick else [10, 25, 50, 75, 100, 125, 150]
            results["calls_phrase"] = bench_calls(tmp, "phrase", steps, seconds, 150, not args.cold)
        if "free" in what:
            print("concurrent calls, free speech …", flush=True)
            steps = [2, 4] if args.quick else [4, 8, 12, 16, 20, 24, 32, 40, 48, 64]
            results["calls_free"] = bench_calls(tmp, "free", steps, seconds, 300, not args.cold)
        if "latency" in what:
            print("reply latency …", flush=True)
            results["latency"] = bench_latency(tmp, [1, 3] if args.quick else [1, 10, 50])
        if "bargein" in what:
            print("barge-in …", flush=True)
            results["bargein"] = bench_bargein(tmp, 4 if args.quick else 20)
        if "turns" in what:
            print("turn-taking …", flush=True)
            results["turns"] = bench_turns(tmp, live=not args.quick)
    report = table(results)
    print("\n" + report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nJSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
