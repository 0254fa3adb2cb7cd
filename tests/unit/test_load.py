"""The load figure admission follows (#21.1): its arithmetic and its hysteresis, on made-up samples."""

from __future__ import annotations

from pathlib import Path

from app.runtime.load import Limits, Sample, headroom, refusing_next, usable_cores
from streams.loopwatch import Samples

LIMITS = Limits(loop_lag=0.1, stt_wait=0.5, cpu=0.8, high=0.8, low=0.5, window=2.0)


def test_the_load_is_the_worst_signal_over_its_limit_averaged_over_the_window() -> None:
    samples = [Sample(0.0, 0.5, 0.0, 0.0), Sample(1.0, 0.02, 0.1, 0.4), Sample(2.0, 0.04, 0.3, 0.2)]
    figures = headroom(samples, now=2.5, limits=LIMITS)  # the sample at 0.0 is older than the window
    assert round(figures.loop_lag, 6) == 0.03 and round(figures.stt_wait, 6) == 0.2 and round(figures.cpu, 6) == 0.3
    assert round(figures.load, 6) == 0.4  # STT: 0.2 / 0.5 beats loop 0.3 and CPU 0.375
    assert headroom(samples, now=0.5, limits=LIMITS).load == 1.0  # 0.5 s of loop lag: 5 times the limit, capped
    assert headroom([], now=1.0, limits=LIMITS).load == 0.0
    assert headroom(samples, now=10.0, limits=LIMITS).load == 0.0  # nothing recent: idle


def test_hysteresis_stops_at_the_high_mark_and_takes_again_only_below_the_low_one() -> None:
    refusing, seen = False, []
    for load in (0.5, 0.79, 0.8, 0.7, 0.51, 0.5, 0.6, 0.79, 0.95, 0.2):
        refusing = refusing_next(refusing, load, LIMITS)
        seen.append(refusing)
    assert seen == [False, False, True, True, True, False, False, False, True, False]


def test_a_blocked_loop_is_refused_through_the_window_and_taken_again_after_it() -> None:
    """A one-second stall at t=10 (one lag sample of 1 s), then a healthy loop sampled every 0.5 s."""
    samples, refusing, decisions = [], False, {}
    for tick in range(0, 40):
        at = 10 + tick * 0.5
        samples.append(Sample(at, 1.0 if tick == 0 else 0.002, 0.0, 0.1))
        refusing = refusing_next(refusing, headroom(samples, at, LIMITS).load, LIMITS)
        decisions[at] = refusing
    assert decisions[10.0] and decisions[11.5]  # still in the window: refused
    assert not decisions[12.5] and not decisions[29.5]  # the stall left the window: taking calls again


def test_usable_cores_follow_the_cgroup_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert usable_cores(tmp_path) == min(1.5, usable_cores(tmp_path / "none"))
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cores(tmp_path) == usable_cores(tmp_path / "none") >= 1
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cores(v1) == 0.5


def test_a_reservoir_counts_what_it_was_given_past_its_size() -> None:
    samples = Samples(size=3)
    for value in range(5):
        samples.add(value)
    assert samples.count == 5 and list(samples.values) == [2, 3, 4]
