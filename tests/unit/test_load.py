"""The load figure admission follows (#21.1): its arithmetic and its hysteresis, on made-up samples."""

from __future__ import annotations

from pathlib import Path

from app.runtime.load import Limits, Load, Sample, call_weight, headroom, refusing_next
from streams.loopwatch import Samples
from streams.machine import memory_room, usable_cores
from streams.speech.reserve import target_for

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


def test_the_loop_threads_cpu_is_a_signal_and_teaches_what_one_call_costs() -> None:
    limits = Limits(loop_lag=0.1, stt_wait=0.5, cpu=0.8, loop_cpu=0.8, high=0.8, low=0.5, window=2.0)
    # one worker on many cores: its share of them stays low while its loop's thread nears one core
    busy = [Sample(1.0, 0.01, 0.05, 0.3, loop_cpu=0.76, active=60), Sample(1.5, 0.01, 0.05, 0.3, 0.76, 60)]
    figures = headroom(busy, now=2.0, limits=limits)
    assert round(figures.load, 3) == 0.95 and round(figures.linear, 3) == 0.95  # 0.76 / 0.8, not 0.3 / 0.8
    assert figures.per_call is not None and round(figures.per_call, 5) == round(0.95 / 60, 5)
    few = headroom([Sample(1.0, 0.0, 0.0, 0.01, 0.02, active=2)], now=1.5, limits=limits)
    assert few.per_call is None  # two calls say little about what one costs


def test_a_burst_is_refused_before_its_load_shows() -> None:
    """150 calls offered within seconds were all admitted: their load showed only once they talked (#21)."""
    limits = Limits(high=0.8, low=0.6, window=5.0, burst=10)
    load = Load(limits, cores=2)
    taken = [load.admit(now=100.0 + i * 0.05) for i in range(15)]  # a fresh node: nothing measured yet
    assert taken == [""] * 10 + ["burst"] * 5  # ADMIT_BURST calls at once, then wait for a measurement
    assert load.admit(now=106.0) == ""  # the burst left the window
    # measured: 40 live calls make a linear load of 0.4, so 0.01 a call: room for 40 more, in any burst
    load.figures = headroom([Sample(110.0, 0.0, 0.0, 0.1, 0.34, 40)], now=110.0, limits=limits)
    assert round(load.figures.linear, 3) == 0.4
    taken = [load.admit(now=120.0 + i * 0.05) for i in range(45)]
    assert taken.count("") == 40 and taken[40:] == ["burst"] * 5
    load.refusing = True  # measured past ADMIT_HIGH: refused as "load" whatever the projection says
    assert load.admit(now=200.0) == "load"


def test_a_burst_of_free_speech_calls_is_taken_a_third_as_fast() -> None:
    """A free-speech call costs ~3 phrase calls (ADMIT_FREE_WEIGHT): a fresh node took 35 of 50 offered at once
    and all of them failed (bench overload-free); each now counts three times in the burst's projection."""
    limits = Limits(high=0.8, low=0.6, window=5.0, burst=30, free_weight=3.0)
    free, phrase = {"name": "bot", "grammar": False}, {"name": "menu", "grammar": True}
    assert call_weight(free, limits) == 3.0 and call_weight(phrase, limits) == 1.0 and call_weight(None, limits) == 1
    load = Load(limits, cores=2)
    taken = [load.admit(now=100.0 + i * 0.05, weight=call_weight(free, limits)) for i in range(15)]
    assert taken == [""] * 10 + ["burst"] * 5  # 30 / 3 at once
    load = Load(limits, cores=2)
    taken = [load.admit(now=100.0 + i * 0.05, weight=call_weight(phrase, limits)) for i in range(35)]
    assert taken == [""] * 30 + ["burst"] * 5  # phrase calls as before
    # measured: the live calls' own cost per call (0.01) is what a call costs, whatever kind they are
    load = Load(limits, cores=2)
    load.figures = headroom([Sample(110.0, 0.0, 0.0, 0.1, 0.34, 40)], now=110.0, limits=limits)
    taken = [load.admit(now=120.0 + i * 0.05, weight=3.0) for i in range(45)]
    assert taken.count("") == 40


def test_admit_high_above_one_turns_the_projection_off_too() -> None:
    """The suite and the capacity bench run with ADMIT_HIGH=2 to measure what the node carries."""
    load = Load(Limits(high=2.0, low=0.6, window=5.0, burst=10), cores=2)
    assert {load.admit(now=100.0 + i * 0.01) for i in range(200)} == {""}


def test_the_warm_free_speech_reserve_is_sized_from_the_cores_and_stops_at_the_memory_margin(tmp_path: Path) -> None:
    assert target_for(None, cores=2, workers=1) == 30  # 15 a core
    assert target_for(None, cores=2, workers=2) == 15  # the workers share the machine's cores
    assert target_for(None, cores=0.5, workers=1) == 8  # a PaaS dyno's cgroup quota
    assert target_for(None, cores=0.1, workers=4) == 2  # never fewer than two
    assert target_for(0, cores=8, workers=1) == 0  # STT_WARM_FREE=0: no reserve
    cgroup, meminfo = tmp_path / "cgroup", tmp_path / "meminfo"
    cgroup.mkdir()
    (cgroup / "memory.max").write_text(f"{512 * 2**20}\n")  # a 512 MB dyno
    (cgroup / "memory.current").write_text(f"{200 * 2**20}\n")
    assert memory_room(cgroup, meminfo)  # 312 MB free: above 256 MB and 10% of the limit
    (cgroup / "memory.current").write_text(f"{300 * 2**20}\n")
    assert not memory_room(cgroup, meminfo)  # 212 MB free: below the margin
    (cgroup / "memory.max").write_text("max\n")  # no limit: the machine's figures
    meminfo.write_text("MemTotal:       24000000 kB\nMemFree:  1000 kB\nMemAvailable:    3000000 kB\n")
    assert memory_room(cgroup, meminfo)  # 2.9 GB available of 23 GB: above 10%
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:    2000000 kB\n")
    assert not memory_room(cgroup, meminfo)  # 1.9 GB of 23 GB: below 10%
    assert memory_room(tmp_path / "none", tmp_path / "none")  # nothing to read: the pool's cap bounds it
