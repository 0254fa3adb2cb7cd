"""Through a real call, the emulated caller speaking over the greeting.

#23.3 Lines that cannot be cut: over a greeting marked ``interruptible: false`` the greeting plays to its
end, the speech is not a turn, and listening resumes. #23.5 False interruptions: a backchannel or a noise
with no words cuts the greeting, and the greeting goes on from where the caller stopped hearing it."""

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
    interruption = {"min_words": 0, "min_duration": 0.1, "resume": {"min_ms": 300}}
    resuming = demo_ko(name="resuming-ko", numbers=["918000000125"], dtmf_menu=None, interruption=interruption)
    agents = agents_folder(tmp_path_factory.mktemp("agents"), agent, resuming, shipped=False)
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


# -- #23.5 False interruptions resume ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("noise", "why"), [({"say": "네"}, "backchannel"), ({"tone": 400, "freq": 2000}, "no_words")]
)  # fmt: skip
def test_a_false_interruption_gives_the_cut_line_back(service, tmp_path: Path, noise: dict, why: str) -> None:
    url, agents = service
    steps = [{"listen": 1.5}, noise, {"listen": 7}]
    script = write_script(tmp_path, {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 60})
    report = run_emulator(*call_args(url, script, "resuming-ko", agents, out=tmp_path / "out"))
    assert report["errors"] == [], report["errors"]
    done = wait_for(lambda: (c := get_call(url, report["call_id"]))["state"] == "ended" and c, timeout=20)
    cut = kinds(done, "interrupt")[0]["cuts"][0]
    assert cut["kind"] == "greeting" and 0 < cut["heard_ms"] < cut["total_ms"]
    resumed = kinds(done, "interrupt.resumed")
    assert [(r["why"], r["utterance"], r["from_ms"], r["resumed"]) for r in resumed] == [
        (why, cut["utterance"], cut["heard_ms"], True)
    ]
    assert kinds(done, "turn") == []  # no turn, no fallback: the policy was not asked
    greetings = [s for s in kinds(done, "spoken") if s["line_kind"] == "greeting"]
    rest = greetings[-1]  # the rest of the greeting, from where the caller stopped hearing it
    assert rest["text"] and cut["text"].endswith(rest["text"])
    assert abs(cut["heard_ms"] + rest["ms"] - cut["total_ms"]) <= 40  # nothing lost, nothing said twice


def test_say_over_rest_may_be_uninterruptible_and_a_break_still_cuts_it() -> None:
    """The say command's line is guarded until heard (no barge-in); a supervisor's break ends the guard."""
    import gevent

    from streams.events import EventBus
    from streams.link.media_link import MediaLink
    from streams.link.settings import LinkSettings
    from streams.session.call import Call
    from streams.session.media_files import MediaFiles
    from streams.session.settings import CallSettings
    from streams.speech.tts import TTSPool
    from tests.support.memsocket import MemorySocket

    pool = TTSPool(1, 10.0)
    pool.start()
    sock = MemorySocket()
    call = Call(
        "g1", agent={"voice": "en-us"}, settings=CallSettings(caller_id="919000000000"),
        link=MediaLink(LinkSettings()), bus=EventBus(), media=MediaFiles(Path("media"), "https://svc.test"), tts=pool,
    )  # fmt: skip
    try:
        call.attach(sock)
        call.start()
        gevent.spawn(call.serve, sock)
        sock.push(b"\x01\x00" * 160)
        call.handle("say", {"text": "Calls are recorded.", "interruptible": "true"}, "test")
        assert not call.guarded()
        call.handle("say", {"text": "This notice must be heard.", "interruptible": "false"}, "test")
        assert call.guarded()
        call.handle("break", {}, "test")
        assert not call.guarded()
    finally:
        call.end("test_over", hangup=False)
        pool.close()
