"""When stream readers batch their reads: the loop thread's smoothed CPU against a mark (streams/loopwatch.py)."""

from __future__ import annotations

from streams.loopwatch import ReadBatching


def test_readers_wait_only_while_the_loop_is_busy() -> None:
    reads = ReadBatching(wait=0.04, busy=0.4)
    assert reads.wait() == 0.0  # a fresh node reads at once
    for _ in range(100):  # ~5 s of a loop at 60% of a core, in 50 ms samples
        reads.observe(0.03, 0.05)
    assert 0.55 < reads.share <= 0.6
    assert reads.wait() == 0.04 and reads.waits == 1
    reads.observe(0.0, 0.05)  # one idle sample does not flip it: the share is smoothed over ~a second
    assert reads.wait() == 0.04
    for _ in range(100):
        reads.observe(0.005, 0.05)
    assert reads.share < 0.4 and reads.wait() == 0.0 and reads.waits == 2


def test_settings_turn_it_off_or_always_on() -> None:
    reads = ReadBatching()
    reads.configure(0.0, 0.0)  # STREAM_READ_BATCH_MS=0: never, however busy
    reads.observe(0.05, 0.05)
    assert reads.wait() == 0.0
    reads.configure(0.06, 0.0)  # STREAM_READ_BATCH_BUSY=0: always
    reads.share = 0.0
    assert reads.wait() == 0.06
    reads.observe(1.0, 0.0)  # a zero-length interval is ignored
    assert reads.share == 0.0


def test_a_full_machine_batches_even_when_this_loop_is_not_busy() -> None:
    reads = ReadBatching(wait=0.04, busy=0.4)
    for _ in range(100):  # a worker's loop at 30% of a core while the machine's CPUs are 95% busy
        reads.observe(0.015, 0.05, 0.95)
    assert reads.share < 0.4 and reads.machine > ReadBatching.MACHINE_BUSY
    assert reads.wait() == 0.04
    for _ in range(100):  # the machine calms down
        reads.observe(0.015, 0.05, 0.3)
    assert reads.wait() == 0.0
    reads.observe(0.015, 0.05, None)  # no /proc/stat: the machine's figure stays as it was
    assert reads.machine < ReadBatching.MACHINE_BUSY


def test_the_machines_cpu_is_read_from_proc_stat() -> None:
    from streams.machine import machine_cpu

    first = machine_cpu()
    assert first is not None  # Linux
    sum(range(2_000_000))  # some CPU
    second = machine_cpu()
    assert second[1] >= first[1] and 0 <= second[0] - first[0] <= second[1] - first[1] + 1
