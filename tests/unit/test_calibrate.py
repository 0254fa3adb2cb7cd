"""The admission settings `python -m bench calibrate` derives from a run's load samples (#21.6): arithmetic only."""

from __future__ import annotations

from bench.calibrate import admission_settings, strictest


def test_a_signal_that_rose_at_the_failing_step_sets_its_level_and_the_others_keep_their_defaults() -> None:
    held = [{"loop_lag_ms": 10.0, "stt_wait_ms": 80.0, "cpu": 0.5}] * 3
    failed = [{"loop_lag_ms": 11.0, "stt_wait_ms": 1200.0, "cpu": 0.55}] * 3
    settings = admission_settings(held, failed, high=0.8)
    assert settings["ADMIT_STT_WAIT_MS"] == 800  # (80 + 1200) / 2 / 0.8: the load reaches 0.8 halfway there
    assert settings["ADMIT_LOOP_LAG_MS"] == 60 and settings["ADMIT_CPU"] == 0.85  # did not rise: defaults
    assert admission_settings(held, [], high=0.8)["ADMIT_STT_WAIT_MS"] == 400  # nothing failed: the default


def test_one_node_carries_both_kinds_so_the_lower_level_wins() -> None:
    merged = strictest([{"ADMIT_STT_WAIT_MS": 800, "ADMIT_CPU": 0.85}, {"ADMIT_STT_WAIT_MS": 500, "ADMIT_CPU": 0.9}])
    assert merged == {"ADMIT_STT_WAIT_MS": 500, "ADMIT_CPU": 0.85}
