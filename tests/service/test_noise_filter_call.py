"""The noise filter end to end (#23.4): two calls through the real service, one agent without it, one with.

Each call: the greeting, 3 s of DTMF-like tones at -30 dBFS (the energy VAD
takes them for speech), a second of quiet, then "네". Without the filter the
tones are a turn of their own; with ``noise: rnnoise`` only "네" is, and it is
answered.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from emulator.service import running_service
from emulator.turnset import turnset
from tests.conftest import ROOT, base_config
from tests.support.streaming import call_args, get_call, run_emulator, wait_for, wait_until_hearing, write_script


def test_with_rnnoise_tones_are_not_a_turn_and_the_caller_is_still_answered(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    base = yaml.safe_load((ROOT / "agents" / "demo-ko.yaml").read_text())
    base.pop("dtmf_menu")
    base["intents"] = [i for i in base["intents"] if i.get("action", "none") == "none"]  # none ends the call
    for i, noise in enumerate(("none", "rnnoise")):
        agent = {**base, "name": f"noise-{noise}", "numbers": [f"9180000016{i}"], "greeting": "안녕하세요."}
        agent.update(max_misses=100, noise=noise)
        (agents / f"noise-{noise}.yaml").write_text(yaml.safe_dump(agent, allow_unicode=True))
    tones = next(clip for clip in turnset() if clip.name == "noise-dtmf-30")
    steps = [{"listen": "reply"}, {"wav": tones.path}, {"listen": 1.0}, {"say": "네"}, {"listen": "reply"}]
    script = write_script(tmp_path, {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 40})
    settings = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", AGENTS_DIR=str(agents))
    turns, replies = {}, {}
    with running_service(settings) as url:
        wait_until_hearing(url)
        for noise in ("none", "rnnoise"):
            report = run_emulator(*call_args(url, script, f"noise-{noise}", agents))
            assert report["errors"] == [], report["errors"]
            call = wait_for(lambda r=report: (c := get_call(url, r["call_id"]))["state"] == "ended" and c, timeout=20)
            turns[noise] = [e["detail"] for e in call["timeline"] if e["kind"] == "turn"]
            replies[noise] = report["reply_latency_ms"]
    assert len(turns["none"]) >= 2, turns["none"]  # the tones, then "네"
    assert len(turns["rnnoise"]) == 1, turns["rnnoise"]  # only "네"
    assert turns["rnnoise"][0]["speech_ms"] < 1500  # "네", not the 3 s of tones
    assert len(replies["rnnoise"]) >= 1  # the caller was answered
