"""A paused stream sends no frames (mod_audio_stream stops its media bug): no idle limit fires while paused (#20.5)."""

from __future__ import annotations

from tests.support.memsocket import settle


def test_no_idle_limit_fires_while_paused_and_the_count_starts_again_on_resume(harness) -> None:
    h = harness(idle_timeout=5).live()
    h.call.pause()
    for _ in range(12):  # a minute paused: no frames, only the reader's wake-ups
        h.clock.advance(5)
        h.sock.push(b"\x01")  # any message wakes the reader, which checks the limits
        settle()
    assert not h.call.ended
    h.call.resume()
    h.clock.advance(4)
    h.sock.push(b"\x01")
    settle()
    assert not h.call.ended  # 4 s since the resume, not 64 since the last frame
    h.clock.advance(2)
    h.sock.push(b"\x01")
    assert h.call.wait_ended(2) and h.call.end_reason == "idle_timeout"
