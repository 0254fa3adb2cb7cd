"""python -m bench.profile: where the service's CPU goes with N calls streaming (py-spy on the gunicorn worker).

Starts the service as the benchmarks do, drives N calls of the capacity dialogue
(bench/dialogue.py), samples the worker with `py-spy record` (needs ptrace: root,
or CAP_SYS_PTRACE) while they stream, and prints the functions with the most CPU,
by own time and by time including callees. The raw collapsed stacks and an SVG
flame graph go next to the JSON results.

    python -m bench.profile --calls 100 --seconds 40 [--mode phrase|free] [--native]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psutil

from bench.dialogue import caller_script
from bench.harness import bench_agents, load, voice_service, wait_idle
from emulator.service import ROOT

FRAMEWORK = ("Flask.", "Sock.route", "AsyncWorker.", "GeventWorker.", "_handle_and_close_when_done", "Thread.")


def top_costs(collapsed: str, limit: int = 25) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(own time, inclusive time) per function, as fractions of all samples, from py-spy's raw output."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [f.rsplit(" (", 1)[0] + " (" + _where(f) + ")" for f in stack.split(";") if f]
        if frames:
            own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return [], []
    return (
        [(f, n / samples) for f, n in own.most_common(limit)],
        [(f, n / samples) for f, n in total.most_common(limit)],
    )


def _where(frame: str) -> str:
    """``module.py:line`` of a py-spy frame ``name (path/module.py:line)``, without the line."""
    inside = frame.rsplit(" (", 1)[-1].rstrip(")")
    path = inside.rsplit(":", 1)[0]
    return "/".join(Path(path).parts[-2:])


def threads(worker: psutil.Process) -> dict[int, float]:
    """CPU seconds so far per thread of ``worker`` (the event loop's thread has the process's id)."""
    return {t.id: t.user_time + t.system_time for t in worker.threads()}


def record(pid: int, seconds: float, out: Path, native: bool) -> str:
    raw = out.with_suffix(".txt")
    command = ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200"]
    command += ["--nonblocking", "--threads"] + (["--native"] if native else [])
    py_spy = Path(sys.executable).with_name("py-spy")
    base = [str(py_spy) if py_spy.exists() else "py-spy", *command[1:]]
    subprocess.run([*base, "--format", "raw", "--output", str(raw)], check=True, capture_output=True)
    return raw.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=40, help="how long the calls stream")
    parser.add_argument("--mode", choices=("phrase", "free"), default="phrase")
    parser.add_argument("--native", action="store_true", help="include C frames (slower sampling)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"profile-{args.mode}-{args.calls}-{time.strftime('%Y%m%d-%H%M%S')}"
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp_name:
        tmp = Path(tmp_name)
        agents = bench_agents(tmp)
        agent = "bench-phrase" if args.mode == "phrase" else "bench-free"
        with voice_service(tmp, agents) as svc:
            worker = psutil.Process(svc.master_pid).children()[0]
            # Steady state, as the benchmark measures it: the pool holds warm recognisers for every call.
            load(svc, agents, agent, caller_script(tmp), args.calls, seconds=10, ramp=0.02)
            wait_idle(svc.url)
            result: dict[str, object] = {}
            driver = threading.Thread(
                target=lambda: result.update(
                    load(svc, agents, agent, caller_script(tmp), args.calls, seconds=args.seconds, ramp=0.05)
                )
            )
            driver.start()
            time.sleep(args.calls * 0.05 + 3)  # every call streaming
            worker.cpu_percent(None)
            before, started = threads(worker), time.monotonic()
            collapsed = record(worker.pid, max(5.0, args.seconds - args.calls * 0.05 - 8), stem, args.native)
            cpu = worker.cpu_percent(None)
            split = {
                k: (v - before.get(k, 0.0)) / (time.monotonic() - started) * 100 for k, v in threads(worker).items()
            }
            driver.join()
            wait_idle(svc.url)
    own, inclusive = top_costs(collapsed)
    print(f"worker CPU while sampled: {cpu:.0f}% of a core ({args.calls} {args.mode} calls); raw: {stem}.txt")
    main_thread = split.pop(worker.pid, 0.0)
    print(f"  the event loop's thread {main_thread:.0f}%, other threads (vosk's pool) {sum(split.values()):.0f}%")
    print(f"  load generator: {result.get('generator')}; replies {result.get('replies')}")
    print("\nown time (the function itself):")
    for name, share in own:
        print(f"  {share * 100:5.1f}%  {name}")
    print("\nincluding callees:")
    for name, share in inclusive:
        print(f"  {share * 100:5.1f}%  {name}")
    loop = "\n".join(line for line in collapsed.splitlines() if line.startswith(f"thread ({worker.pid})"))
    print("\nthe event loop's thread alone, including callees (its samples only):")
    for name, share in top_costs(loop, 40)[1][1:]:
        if not name.startswith(FRAMEWORK):
            print(f"  {share * 100:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
