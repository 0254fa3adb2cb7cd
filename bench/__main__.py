"""python -m bench [answer|calls|latency|bargein|all] [--quick]: measure the service.

Runs the real service as the Procfile does (gunicorn, one gevent worker, on
127.0.0.1), drives it with the emulator, prints one table and writes JSON
(with the machine's core count and the commit) to bench/results/.

  answer   requests/s of POST /webhooks/piopiy/answer vs a bare Flask view (same server, same run), via wrk
           (for information: what Piopiy feels is the webhook's p99 while calls stream, in the call steps)
  calls    capacity as the caller hears it, phrase grammar (phrase) and free speech (free): steps of N
           calls where a Korean caller says "네"/"아니요" every 3.6 s on its own clock; a step holds when every
           call completed, reply p95 <= 450 ms, no reply missing, no frame lost or dropped, STT lag p95
           <= 150 ms; VOID when the load generator fell behind. Per step: service CPU (per call), RSS (per
           call), answer-webhook p50/p99 under that load, the generator's lateness and CPU, the load average
  latency  reply latency (end of caller speech -> first reply byte) at 1, 10 and 50 calls
  bargein  caller speech during a reply -> break on the wire
  deflate  service CPU with callers whose socket offers permessage-deflate (as mod_audio_stream does) against
           callers that do not: same service, same run, --steps N calls (default 50); the ratio must be ~1.0
  calibrate  (its own options: python -m bench calibrate --help) 2-3 minutes: the phrase and free-speech calls
           this machine holds and the ADMIT_* settings that follow (bench/calibrate.py)
  vosk     vosk's speed profiles (STT_PROFILE, an agent's stt_profile): CPU per second of audio, the final
           result's time and what is heard, phrase grammar and free speech, no service (#21.5; bench/vosk_profiles.py)
  heard    vosk's recognition of our own TTS lines as the caller hears them through real calls (#23.7);
           --tree PATH runs the service from another checkout (before/after a change), see bench/heard.py
  overload offered --steps N calls (default 150) with admission on at its defaults, as deployed: the admitted
           calls must meet the goals, the rest hear the busy message (#21.1); see bench/overload.py
  overload-free  the same with free-speech calls (default 50 offered)
  turns    turn-taking: Silero VAD and the Smart Turn model against the energy VAD, on a generated test set
           (reply latency, paused utterances cut, noise taken for speech, CPU per turn); see bench/turns.py

Profile the service under load with `python -m bench.profile --calls 100` (py-spy). BENCH_REPORTS=<dir>
keeps every call's emulator report (turns, replies, controls), to see why a step failed.
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

from bench.audio_quality import LINES
from bench.capacity import bench_capacity
from bench.deflate import bench_deflate
from bench.dialogue import duty_cycle
from bench.harness import GOALS
from bench.heard import bench_heard
from bench.overload import bench_overload
from bench.report import commit, cpu_model, table
from bench.steps import bench_answer, bench_bargein, bench_latency
from bench.turns import bench_turns
from bench.vosk_profiles import bench_vosk
from bench.vosk_profiles import table as vosk_table
from emulator.service import ROOT

PHRASE_STEPS = [25, 50, 75, 100, 125, 150]
FREE_STEPS = [5, 10, 25, 50, 75, 100]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "what",
        nargs="*",
        help="all (default), answer, calls (= phrase + free), phrase, free, latency, bargein, turns, deflate, heard, "
        "vosk, overload, overload-free",
    )
    parser.add_argument("--quick", action="store_true", help="short runs and few steps (a smoke test, not figures)")
    parser.add_argument("--seconds", type=float, help="seconds each concurrent call streams (default 30)")
    parser.add_argument("--steps", help=f"call steps, e.g. 25,50,75 (default phrase {PHRASE_STEPS}, free {FREE_STEPS})")
    parser.add_argument(
        "--every-step", action="store_true", help="run every call step, also after one fails (cost figures)"
    )
    parser.add_argument(
        "--tree",
        type=Path,
        default=ROOT,
        help="heard, phrase, free: run the service from this checkout (another commit's worktree), not this one",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="phrase, free, overload: gunicorn workers (> 1: on a private Redis, as make run on as many cores)",
    )
    parser.add_argument(
        "--only", choices=["noise"], help="turns: only the rows with and without the noise filter, and its figures"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    return parser


def run(argv: list[str] | None = None) -> int:
    """``calibrate`` has options of its own (bench/calibrate.py, #21.6); everything else is ``main``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["calibrate"]:
        from bench.calibrate import main as calibrate

        return calibrate(argv[1:])
    return main(argv)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    what = set(args.what or ["all"])
    unknown = what - {
        "all",
        "answer",
        "calls",
        "phrase",
        "free",
        "latency",
        "bargein",
        "turns",
        "deflate",
        "heard",
        "overload",
        "overload-free",
        "vosk",
    }
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if "all" in what:
        what = {"answer", "phrase", "free", "latency", "bargein", "turns"}
    if "calls" in what:
        what |= {"phrase", "free"}
    seconds = args.seconds or (8 if args.quick else 30)
    results: dict[str, Any] = {
        "commit": commit(),
        "tree": str(args.tree.resolve()),  # the checkout whose service ran (another commit's, with --tree)
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "python": sys.version.split()[0],
        "quick": args.quick,
        "goals": GOALS,
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
        "dialogue": duty_cycle(),
    }
    results["conditions"] = _conditions(results)
    print(results["conditions"], flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_name:
        _measure(Path(tmp_name), what, args, seconds, results)
    report = table(results)
    print("\n" + report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nJSON: {path}")
    return 0


def _measure(tmp: Path, what: set[str], args: argparse.Namespace, seconds: float, results: dict[str, Any]) -> None:
    """Run each benchmark asked for, in this order, adding its figures to ``results``."""
    if "answer" in what:
        print("answer webhook …", flush=True)
        results["answer"] = bench_answer(tmp, args.quick)
    for mode, default in (("phrase", PHRASE_STEPS), ("free", FREE_STEPS)):
        if mode in what:
            print(f"capacity, {mode} ({'phrase grammar' if mode == 'phrase' else 'free speech'}) …", flush=True)
            steps = [int(n) for n in args.steps.split(",")] if args.steps else ([5, 10] if args.quick else default)
            results[f"calls_{mode}"] = bench_capacity(
                tmp, mode, steps, seconds, args.every_step, args.tree.resolve(), args.workers
            )
    if "latency" in what:
        print("reply latency …", flush=True)
        results["latency"] = bench_latency(tmp, [1, 3] if args.quick else [1, 10, 50])
    if "bargein" in what:
        print("barge-in …", flush=True)
        results["bargein"] = bench_bargein(tmp, 4 if args.quick else 20)
    if "deflate" in what:
        calls = int(args.steps.split(",")[0]) if args.steps else (5 if args.quick else 50)
        print(f"deflate offered vs not, {calls} phrase calls …", flush=True)
        results["deflate"] = bench_deflate(tmp, calls, seconds)
    if "overload" in what:
        offered = [int(n) for n in args.steps.split(",")] if args.steps else [150]
        print(f"overload: {offered} calls offered, admission on …", flush=True)
        results["overload"] = bench_overload(tmp, offered, seconds, args.tree.resolve(), args.workers)
    if "overload-free" in what:
        offered = [int(n) for n in args.steps.split(",")] if args.steps else [50]
        print(f"overload, free speech: {offered} calls offered, admission on …", flush=True)
        results["overload_free"] = bench_overload(
            tmp, offered, seconds, args.tree.resolve(), args.workers, agent="bench-free"
        )
    if "heard" in what:
        print(f"our TTS lines through calls, service from {args.tree} …", flush=True)
        results["heard"] = bench_heard(tmp, args.tree.resolve(), 3 if args.quick else len(LINES))
        print(f"mean character error rate: {results['heard']['mean']}", flush=True)
    if "vosk" in what:
        print("vosk speed profiles …", flush=True)
        results["vosk"] = bench_vosk(rounds=1 if args.quick else 2)
        print(vosk_table(results["vosk"]), flush=True)
    if "turns" in what:
        print("turn-taking …", flush=True)
        results["turns"] = bench_turns(tmp, live=not args.quick, only=args.only)


def _conditions(results: dict[str, Any]) -> str:
    d = results["dialogue"]
    return (
        f"machine: {results['cpu_model']}, {results['cores']} cores, load average {results['load_avg_start']} at "
        f"start (other work on the "
        f"box disturbs the figures; each step prints its own); the load generator runs on the same box.\n"
        f"dialogue: the caller says {' / '.join(d['phrases'])} every {d['period_s']} s on its own clock "
        f"({d['speech_s']} s of speech each: duty cycle {d['duty_pct']}%)."
    )


if __name__ == "__main__":
    sys.exit(run())
