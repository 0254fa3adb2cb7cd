"""Warm transfer when nobody answers, for real: vosk hears the Korean caller, the emulator rings the person.

The emulator plays the platform's side of the bridge (emulator/human.py): it posts
TeleCMI-shaped leg-b events to the events webhook (answered, or a missed CDR), or
says nothing, so the service's backstop timer has to decide.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.support.streaming import (
    agents_folder,
    get_call,
    start_call,
    voice_service,
    wait_for,
    write_script,
)

TO_A_PERSON = [{"listen": "reply"}, {"say": "상담원"}, {"listen": "reply"}]  # greeting; asks for a person; hold line
OFFER = "다시 연결할까요?"
GOODBYE = "안녕히 계세요."


def short_agent(name: str, number: str, **human: Any) -> dict[str, Any]:
    """demo-ko with short lines (real-time tests stay short) and no DTMF menu."""
    agent = yaml.safe_load((ROOT / "agents" / "demo-ko.yaml").read_text())
    agent.pop("dtmf_menu", None)
    agent.update(name=name, numbers=[number], greeting="안녕하세요.", hold_message="연결합니다.")
    agent.update(no_answer_message=OFFER, no_answer_goodbye=GOODBYE)
    agent["human"].update(human)
    return agent


# Each scenario: the agent, what the person does about each bridge, and the caller's steps.
SCENARIOS: dict[str, tuple[str, Any, list[dict[str, Any]]]] = {
    "yes": ("ko-transfer", ["no_answer", "answer"],
            [*TO_A_PERSON, {"listen": "reply"}, {"say": "네"}, {"listen": "reply"}, {"listen": 2.5}]),
    "no": ("ko-transfer", "no_answer", [*TO_A_PERSON, {"listen": "reply"}, {"say": "아니요"}, {"listen": 5}]),
    "answered": ("ko-transfer", "answer", [*TO_A_PERSON, {"listen": 2.5}, {"say": "네"}, {"listen": 1.5}]),
    "silent": ("ko-quick-ring", "silent", [*TO_A_PERSON, {"listen": "reply"}, {"listen": 7}]),
}  # fmt: skip


@pytest.fixture(scope="module")
def agents_dir(tmp_path_factory) -> Path:
    return agents_folder(
        tmp_path_factory.mktemp("agents"),
        short_agent("ko-transfer", "918000000034", offer_wait=3),
        short_agent("ko-quick-ring", "918000000033", timeout=1, loop=1, ring_margin=1, offer_wait=2),  # backstop: 2 s
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory, agents_dir: Path):
    with voice_service(tmp_path_factory.mktemp("transfer"), agents_dir, MAX_CALLS=10) as url:
        yield url


@pytest.fixture(scope="module")
def reports(service: str, agents_dir: Path, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Every scenario's call, placed at once (they run side by side: the module takes one call's time)."""
    folder = tmp_path_factory.mktemp("scripts")
    running = {}
    for name, (agent, human, steps) in SCENARIOS.items():
        data = {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 40, "human": human, "ring_seconds": 1.0}
        running[name] = start_call(service, write_script(folder, data, f"{name}.yaml"), agent, agents_dir)
    out = {}
    for name, proc in running.items():
        stdout, _ = proc.communicate(timeout=90)
        out[name] = json.loads(stdout)
        assert out[name]["errors"] == [], (name, out[name]["errors"])
    return out


def ended(service: str, call_id: str) -> dict[str, Any]:
    return wait_for(lambda: (c := get_call(service, call_id))["state"] == "ended" and c, timeout=20)


def kinds(call: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in call["timeline"] if e["kind"] == kind]


def bot_lines(call: dict[str, Any]) -> list[str]:
    return [t["text"] for t in call["transcript"] if t["speaker"] == "bot"]


def test_nobody_answers_the_caller_says_yes_and_it_rings_again(service: str, reports) -> None:
    report = reports["yes"]
    assert [t["outcome"] for t in report["transfers"]] == ["no_answer", "answered"]  # a second bridge, answered
    done = ended(service, report["call_id"])
    unanswered = kinds(done, "handoff.unanswered")
    assert [(u["by"], u["attempt"], u["offers_left"]) for u in unanswered] == [("platform", 1, 1)]
    assert len(kinds(done, "handoff.retry")) == 1 and len(kinds(done, "handoff.answered")) == 1
    assert "retry.yes" in [t["intent"] for t in kinds(done, "turn")]
    states = [(s["state"], s.get("reason")) for s in kinds(done, "state")]
    assert states.count(("handed_off", None)) == 2 and ("live", "handoff_unanswered") in states
    assert bot_lines(done).count(OFFER) == 1 and bot_lines(done).count("연결합니다.") == 2
    assert done["handoff"]["state"] == "bridged" and done["handoff"]["attempts"] == 2
    events = [e["detail"]["kind"] for e in done["timeline"] if e["kind"] == "event"]
    assert "bridge.missed" in events and "bridge.answered" in events  # what the platform said, on the timeline


def test_nobody_answers_the_caller_says_no_and_hears_goodbye(service: str, reports) -> None:
    report = reports["no"]
    assert len(report["transfers"]) == 1 and report["end"]["how"] == "bot_hangup"
    done = ended(service, report["call_id"])
    assert done["end_reason"] == "no_answer_declined"
    assert [d["why"] for d in kinds(done, "handoff.declined")] == ["no"]
    assert bot_lines(done)[-2:] == [OFFER, GOODBYE] and done["handoff"]["state"] == "declined"


def test_a_person_answers_and_the_call_stays_bridged(service: str, reports) -> None:
    report = reports["answered"]
    assert [t["outcome"] for t in report["transfers"]] == ["answered"]
    done = ended(service, report["call_id"])
    assert len(kinds(done, "handoff.answered")) == 1 and not kinds(done, "handoff.unanswered")
    assert done["handoff"]["state"] == "bridged" and done["handoff"]["by"] == "platform"
    assert bot_lines(done)[-1] == "연결합니다."  # the bot stayed quiet after the hold line
    assert done["transcript"][-1]["speaker"] == "caller"  # still transcribed (monitoring)


def test_the_platform_says_nothing_the_backstop_decides_and_silence_ends_it(service: str, reports) -> None:
    report = reports["silent"]
    assert [t["outcome"] for t in report["transfers"]] == ["no_word"] and report["end"]["how"] == "bot_hangup"
    done = ended(service, report["call_id"])
    assert [u["by"] for u in kinds(done, "handoff.unanswered")] == ["timer"]
    assert [d["why"] for d in kinds(done, "handoff.declined")] == ["silence"]
    assert done["end_reason"] == "no_answer" and done["handoff"]["by"] == "timer"
    assert bot_lines(done)[-2:] == [OFFER, GOODBYE]
