"""#23.3 Lines that cannot be cut, through a real call: the emulated caller speaks over a greeting marked
``interruptible: false``; the greeting plays to its end, the speech is not a turn, and listening resumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    agent = demo_ko(name="guarded-ko", numbers=["918000000124"], dtmf_menu=None, interruptible={"greeting": False})
    agents = agents_folder(tmp_path_factory.mktemp("agents"), agent, shipped=False)
    with voice_service(tmp_path_factory.mktemp("svc"), agents) as url:
        yield url, agents


def kinds(call: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in call["timeline"] if e["kind"] == kind]


def test_speech_over_an_uninterruptible_greeting_neither_cuts_it_nor_is_a_turn(service, tmp_path: Path) -> None:
    url, agents = service
    steps = [{"listen": 1.2}, {"say": "네"}, {"listen": 6}, {"say": "네"}, {"listen": "reply"}]
    script = write_script(tmp_path, {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 60})
    report = run_emulator(*call_args(url, script, "guarded-ko", agents, out=tmp_path / "out"))
    assert report["errors"] == [], report["errors"]
    assert "break" not in [c["action"] for c in report["controls"]]
    done = wait_for(lambda: (c := get_call(url, report["call_id"]))["state"] == "ended" and c, timeout=20)
    assert kinds(done, "interrupt") == []
    greeting = [s for s in kinds(done, "spoken") if s["line_kind"] == "greeting"]
    assert greeting and greeting[0]["ms"] > 2500  # played whole
    assert [n["why"] for n in kinds(done, "turn.ignored")] == ["uninterruptible"]
    # Listening resumed after the greeting: the second "네" is a turn, and it was answered.
    assert [t["intent"] for t in kinds(done, "turn")] == ["yes"]
    assert any(s["line_kind"] == "reply" for s in kinds(done, "spoken"))
