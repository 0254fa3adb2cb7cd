"""python -m bench calibrate (make calibrate): what this machine holds, and the admission settings that follow.

A short run (2-3 minutes) on the target machine, alone on it: a few phrase-grammar
steps, then a few free-speech steps, each of ``--seconds`` (the full benchmark,
``python -m bench calls``, runs longer steps). Steps grow by ``--growth`` from a
start scaled by the usable cores, and stop at the first that fails. The service
runs with admission off (bench/harness.py); while each step runs, its own load
figures (``/healthz`` ``load``: loop lag, STT wait, CPU share, app/runtime/load.py)
are sampled once a second.

Printed: the steps, the calls each kind holds, and the ``ADMIT_*`` lines for
``.env``: each signal's level is put so that the node's load reaches
``ADMIT_HIGH`` halfway between what that signal was on the last step that held
and on the first that failed, i.e. the node stops taking calls before the load
that failed (the lower of the two kinds' levels). A signal that did not rise
between the two keeps its default.
Written as JSON to bench/results/calibrate-*.json as well.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from app.runtime.load import Limits
from bench.capacity import step, step_line
from bench.harness import Sampler, bench_agents, voice_service
from bench.report import commit, cpu_model
from emulator.service import ROOT
from streams.machine import usable_cores

SIGNALS = {
    "loop_lag_ms": "ADMIT_LOOP_LAG_MS",
    "stt_wait_ms": "ADMIT_STT_WAIT_MS",
    "cpu": "ADMIT_CPU",
    "loop_cpu": "ADMIT_LOOP_CPU",
}
DEFAULTS = Limits()
DEFAULT_LEVELS = {
    "loop_lag_ms": DEFAULTS.loop_lag * 1000,
    "stt_wait_ms": DEFAULTS.stt_wait * 1000,
    "cpu": DEFAULTS.cpu,
    "loop_cpu": DEFAULTS.loop_cpu,
}
RISE = 1.25  # a signal whose failing figure is not this much above the held one did not cause the failure


class LoadProbe:
    """The service's own load figures (/healthz ``load``, with ``t``: seconds since the start), once a second."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.wait(1.0):
            try:
                figures = requests.get(f"{self.url}/healthz", timeout=5).json().get("load")
            except (requests.RequestException, ValueError):
                continue
            if figures:
                self.samples.append({"t": round(time.monotonic() - start, 1), **figures})

    @contextmanager
    def running(self) -> Iterator[LoadProbe]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=5)


def typical(samples: list[dict[str, float]], name: str) -> float | None:
    """A step's figure for one signal: the median of its samples (None without samples)."""
    values = [s[name] for s in samples if name in s]
    return statistics.median(values) if values else None


def admission_settings(held: list[dict[str, float]], failed: list[dict[str, float]], high: float) -> dict[str, float]:
    """The ADMIT_* level of each signal, from the load samples of the last step held and the first that failed.

    The load is a signal over its level; the node refuses at ``high``. A level of ``midpoint / high`` makes
    the load reach ``high`` when the signal is halfway from the held figure to the failing one.
    """
    settings = {}
    for name, setting in SIGNALS.items():
        ok, bad = typical(held, name), typical(failed, name)
        level = DEFAULT_LEVELS[name]
        if ok is not None and bad is not None and bad > ok * RISE and bad > 0:
            level = (ok + bad) / 2 / high
        settings[setting] = round(level, 2 if name in ("cpu", "loop_cpu") else 0)
    return settings


def strictest(each: Iterator[dict[str, float]] | list[dict[str, float]]) -> dict[str, float]:
    """One node carries both kinds of call: each signal's lowest level over the kinds."""
    merged: dict[str, float] = {}
    for settings in each:
        for key, value in settings.items():
            merged[key] = min(value, merged.get(key, value))
    return merged


def run_kind(tmp: Path, agents: Path, mode: str, start: int, growth: float, most: int, seconds: float) -> dict:
    """Steps of one kind of call until one fails (or ``most`` steps): rows and their load samples."""
    agent = "bench-phrase" if mode == "phrase" else "bench-free"
    rows: list[dict[str, Any]] = []
    with voice_service(tmp, agents) as svc:
        idle_rss = Sampler(svc).rss_now()
        n = start
        for _ in range(most):
            with LoadProbe(svc.url).running() as probe:
                row = step(svc, agents, agent, tmp, n, seconds, idle_rss)
            row["load_samples"] = probe.samples
            rows.append(row)
            print(f"  {mode} {n:>4} calls: {step_line(row)}", flush=True)
            if row["verdict"] != "holds":
                break
            n = max(n + 1, round(n * growth))
    held = [r for r in rows if r["verdict"] == "holds"]
    failed = [r for r in rows if r["verdict"] == "fails"]
    return {"mode": mode, "steps": rows, "holds": held[-1]["calls"] if held else 0,
            "held_samples": held[-1]["load_samples"] if held else [],
            "failed_samples": failed[0]["load_samples"] if failed else []}  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench calibrate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10, help="seconds each step's calls stream (default 10)")
    parser.add_argument("--growth", type=float, default=1.5, help="each step's calls over the last's (default 1.5)")
    parser.add_argument("--steps", type=int, default=3, help="at most this many steps of each kind (default 3)")
    parser.add_argument("--phrase-start", type=int, help="first phrase step (default 25 per usable core)")
    parser.add_argument("--free-start", type=int, help="first free-speech step (default 3 per usable core)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cores = usable_cores()
    print(f"machine: {cpu_model()}, {cores:g} usable cores; admission off while measuring", flush=True)
    results: dict[str, Any] = {"commit": commit(), "cpu_model": cpu_model(), "cores": cores, "kinds": {}}
    with tempfile.TemporaryDirectory(prefix="calibrate-") as name:
        tmp = Path(name)
        agents = bench_agents(tmp)
        for mode, start in (
            ("phrase", args.phrase_start or int(25 * cores)),
            ("free", args.free_start or int(3 * cores)),
        ):
            print(f"{mode} …", flush=True)
            results["kinds"][mode] = run_kind(tmp, agents, mode, max(1, start), args.growth, args.steps, args.seconds)
    phrase = results["kinds"]["phrase"]
    settings = strictest(
        admission_settings(kind["held_samples"], kind["failed_samples"], DEFAULTS.high)
        for kind in results["kinds"].values()
    )
    results["settings"] = settings
    print(f"\n# {cpu_model()}, {cores:g} cores: holds {phrase['holds']} phrase-grammar calls, "
          f"{results['kinds']['free']['holds']} free-speech calls (steps of {args.seconds:g} s)")  # fmt: skip
    for key, value in settings.items():
        print(f"{key}={value:g}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"calibrate-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nJSON: {path}")
    return 0
