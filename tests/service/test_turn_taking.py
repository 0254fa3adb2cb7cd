"""Turn-taking end to end: Silero VAD and the Smart Turn rule on a real call through the emulator.

One call (about 20 s of real-time audio) to an agent with ``turn: {vad: silero,
end: smart}``: loud white noise, then an utterance with a 600 ms pause where
the speaker is clearly not done, then a short complete sentence. The energy
VAD would take the noise for a turn and cut the paused utterance in two.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.dashboard.timeline import lanes
from emulator.service import running_service
from emulator.turnset import turnset
from streams.turns.models import SILERO_FILE
from tests.conftest import ROOT, base_config
from tests.support.streaming import call_args, get_call, run_emulator, wait_for, wait_until_hearing, write_script
from tests.support.turn_models import installed_turn_models

SMART = {"vad": "silero", "end": "smart"}  # ask at 150 ms of pause, wait up to 1000 ms


def calls(
    tmp: Path, turns_by_agent: list[dict[str, Any]], steps: list[dict[str, Any]], **config: Any
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """On one fresh service, one emulated call to each of these agents (one per ``turn`` setting): report and call."""
    agents = tmp / "agents"
    agents.mkdir(parents=True)
    base = yaml.safe_load((ROOT / "agents" / "demo-ko.yaml").read_text())
    base.pop("dtmf_menu")
    # English audio through the Korean model is heard as any phrase: only intents that just reply, so none can
    # end or hand off the call.
    base["intents"] = [i for i in base["intents"] if i.get("action", "none") == "none"]
    for i, turn in enumerate(turns_by_agent):
        agent = {**base, "name": f"turns-{i}", "numbers": [f"9180000015{i}"], "greeting": "안녕하세요."}
        agent.update(max_misses=100, turn=turn)
        (agents / f"turns-{i}.yaml").write_text(yaml.safe_dump(agent, allow_unicode=True))
    script = write_script(tmp, {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 60})
    settings = base_config(tmp, "http://127.0.0.1:1", PUBLIC_URL="auto", AGENTS_DIR=str(agents), **config)
    done = []
    with running_service(settings) as url:
        wait_until_hearing(url)
        for i in range(len(turns_by_agent)):
            report = run_emulator(*call_args(url, script, f"turns-{i}", agents))
            assert report["errors"] == [], report["errors"]
            call = wait_for(lambda r=report: (c := get_call(url, r["call_id"]))["state"] == "ended" and c, timeout=20)
            done.append((report, call))
    return done


@pytest.fixture(scope="module")
def done_call(tmp_path_factory) -> dict[str, Any]:
    installed_turn_models()  # the service reads the same folder (TURN_MODELS_DIR's default)
    clips = {clip.name: clip for clip in turnset()}
    steps = [
        {"listen": "reply"},
        {"wav": clips["noise-white-20"].path},  # 3 s of hiss at -20 dBFS: well over the energy VAD's floor
        {"listen": 1.0},
        {"wav": clips["paused-en-2"].path},  # "I was hoping you could help me with" … "a problem on my bill."
        {"listen": "reply"},
        {"say": "That is correct.", "voice": "en-us"},  # no comma: "Yes," alone is a complete turn to the model
        {"listen": "reply"},
    ]
    ((report, call),) = calls(tmp_path_factory.mktemp("turns"), [SMART], steps)
    return {"report": report, "call": call, "pause": clips["paused-en-2"].pause}


def turns(call: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["detail"] for e in call["timeline"] if e["kind"] == "turn"]


def test_noise_does_not_start_a_turn_and_a_paused_utterance_is_one_turn(done_call: dict[str, Any]) -> None:
    got = turns(done_call["call"])
    summary = [(t["speech_ms"], t["ended_by"], t["waited_ms"], t["completeness"]) for t in got]
    assert len(got) == 2, summary  # no turn for the noise, one (not two) for the paused utterance
    paused, _complete = got
    _gap_start, gap_end = done_call["pause"]
    assert paused["speech_ms"] > gap_end  # both halves, and the pause between them, are in the one turn
    assert paused["completeness"] and paused["completeness"][0] < 0.5  # the model was asked at the pause: not done
    assert paused["ended_by"] in ("smart", "max_wait")
    assert len(done_call["report"]["reply_latency_ms"]) == 2  # the bot answered each utterance, once


def test_a_complete_utterance_is_answered_when_the_model_says_so(done_call: dict[str, Any]) -> None:
    complete = turns(done_call["call"])[-1]
    assert complete["ended_by"] == "smart" and complete["completeness"][-1] >= 0.5
    assert complete["waited_ms"] < 400  # well before max_wait_ms (1000)
    assert done_call["report"]["reply_latency_ms"][-1] < 1000


def test_the_call_page_says_what_ended_each_turn(done_call: dict[str, Any]) -> None:
    # The page draws from stored entries (epoch seconds); the API gives ISO times, in details too (#24.5).
    def epoch(value: Any) -> Any:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if isinstance(value, str) else value

    stored = [
        {
            **e,
            "at": epoch(e["at"]),
            "detail": {k: epoch(v) if k.endswith("_at") else v for k, v in e["detail"].items()},
        }
        for e in done_call["call"]["timeline"]
    ]
    spans = [s for s in lanes(stored).spans if s.lane == "caller"]
    assert any("ended by the turn model" in s.label and "P(complete)" in s.label for s in spans)
    assert any(s.wait and s.end > s.start for s in spans)  # the pause the bot waited, drawn in the caller lane


def test_an_agent_whose_models_are_missing_or_broken_is_served_by_energy_and_silence(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / SILERO_FILE).write_bytes(b"not an onnx file")  # Silero "installed" but broken; Smart Turn missing
    steps = [{"listen": "reply"}, {"say": "네"}, {"listen": "reply"}]
    done = calls(tmp_path, [{"vad": "silero"}, {"end": "smart"}], steps, TURN_MODELS_DIR=str(models))
    for (report, call), why in zip(done, ("error", "missing"), strict=True):
        notes = [e["detail"] for e in call["timeline"] if e["kind"] == "turn.fallback"]  # a note is kept as its what
        assert len(notes) == 1 and notes[0]["vad"] == "energy" and notes[0]["end"] == "silence", notes
        assert why in notes[0] and (why == "error" or notes[0]["missing"] == ["smart"])
        assert [t["ended_by"] for t in turns(call)] == ["silence"] and len(report["reply_latency_ms"]) == 1
