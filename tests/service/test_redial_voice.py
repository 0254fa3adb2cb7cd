"""A redial within the reconnect grace continues the dialogue (#20.5): vosk, pyttsx3 and the emulator for real.

The emulated caller loses its stream socket (no close frame) while the greeting plays and dials the same
URL again; the call is the same call: it is greeted once, and the caller's "yes" after the redial is heard
as the dialogue's next turn and answered.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.streaming import (
    agents_folder,
    call_args,
    demo_ko,
    get_call,
    run_emulator,
    voice_service,
    wait_for,
    write_script,
)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    agents = agents_folder(tmp_path_factory.mktemp("agents"), demo_ko())
    with voice_service(tmp_path_factory.mktemp("redial"), agents, STREAM_RECONNECT_GRACE=3) as url:
        yield url


def test_a_redial_during_the_greeting_keeps_the_dialogue(service: str, tmp_path: Path) -> None:
    # The caller waits out the blip (its audio in the gap would be lost, as on a real line), then the greeting.
    steps = [{"dtmf": "1"}, {"listen": 2.5}, {"listen": "reply"}, {"say": "네"}, {"listen": "reply"}]
    script = write_script(tmp_path, {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 60})
    args = call_args(service, script, "demo-ko", out=tmp_path / "out")
    report = run_emulator(*args, "--drop-at", "0.5", "--redial-after", "1.0")
    assert report["errors"] == [], report["errors"]
    assert [e["kind"] for e in report["timeline"]].count("stream.redialled") == 1
    done = wait_for(lambda: (c := get_call(service, report["call_id"]))["state"] == "ended" and c, timeout=20)
    assert done["end_reason"] == "socket_closed"
    socket_notes = [e["kind"] for e in done["timeline"] if e["kind"].startswith("socket.")]
    assert socket_notes == ["socket.dropped", "socket.redialled"]
    bot_lines = [t["text"] for t in done["transcript"] if t["speaker"] == "bot"]
    assert sum(line.startswith("안녕하세요") for line in bot_lines) == 1  # greeted once: the same dialogue
    greeting = next(e["detail"] for e in done["timeline"] if e["kind"] == "spoken")
    assert greeting["line_kind"] == "greeting"  # held through the gap and played to its end after the redial
    turns = [e["detail"] for e in done["timeline"] if e["kind"] == "turn"]
    assert turns and turns[0]["intent"] == "yes" and len(bot_lines) >= 2  # heard after the redial, answered
