"""The agent's noise filter (#23.4): RNNoise through the pyrnnoise wheel's library, on generated audio."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from marshmallow import ValidationError

from app.agents.book import AgentSchema
from emulator.turnset import Clip, turnset
from streams.audio import frame_bytes, rms
from streams.turns.models import detector_for
from streams.turns.noise import NoiseFilter
from streams.turns.rules import SpeechStarted, TurnRule
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def clips() -> dict[str, Clip]:
    return {clip.name: clip for clip in turnset()}


def filtered(noise: NoiseFilter, pcm: bytes, rate: int) -> bytes:
    size = frame_bytes(rate)
    out = [noise.process(pcm[start : start + size]) for start in range(0, len(pcm) - size + 1, size)]
    assert all(len(frame) == size for frame in out)  # as much out as in, frame by frame
    return b"".join(out)


def energy(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, np.int16).astype(np.float64)
    return float(np.sum(samples**2))


@pytest.mark.parametrize("rate", [8000, 16000])
def test_loud_white_noise_is_attenuated_and_speech_mostly_kept(clips: dict[str, Clip], rate: int) -> None:
    white = clips["noise-white-20"].pcm(rate)
    assert energy(filtered(NoiseFilter(rate), white, rate)) < 0.01 * energy(white)  # > 20 dB down
    for name in ("complete-ko-0", "complete-en-1"):
        speech = clips[name].pcm(rate)
        kept = energy(filtered(NoiseFilter(rate), speech, rate)) / energy(speech[: len(speech) // 320 * 320])
        assert 0.6 < kept < 1.3, (name, kept)


def test_state_is_kept_across_frames_and_is_each_calls_own(clips: dict[str, Clip]) -> None:
    """Frame by frame equals the whole clip at once (soxr's dither aside), while another call's filter runs."""
    rate, speech = 8000, clips["complete-en-2"].pcm(8000)
    speech, white = speech[: len(speech) // 320 * 320], clips["noise-white-30"].pcm(rate)
    whole = NoiseFilter(rate).process(speech)
    ours, other = NoiseFilter(rate), NoiseFilter(rate)
    frames = []
    for start in range(0, len(speech), 320):
        frames.append(ours.process(speech[start : start + 320]))
        other.process(white[start % len(white) :][:320].ljust(320, b"\x00"))  # another call, interleaved
    residue = np.frombuffer(b"".join(frames), np.int16).astype(np.float64) - np.frombuffer(whole, np.int16)
    assert np.sum(residue**2) < 1e-3 * energy(whole)  # a state reset per frame would leave far more
    assert ours.frames == 2 * len(speech) // 320  # two 10 ms RNNoise frames per 20 ms frame
    odd = NoiseFilter(rate)  # frames that are not whole 10 ms: still as much out as in
    assert [len(odd.process(b"\x01\x00" * n)) for n in (10, 470, 33, 127)] == [20, 940, 66, 254]


def test_an_agent_with_rnnoise_does_not_start_a_turn_on_a_noise_clip_that_starts_one_without(
    clips: dict[str, Clip],
) -> None:
    """DTMF-like tones at -30 dBFS start the energy VAD (the bench's figures); denoised they do not."""
    tones = clips["noise-dtmf-30"].pcm(8000)
    started = {}
    for noise in ("none", "rnnoise"):
        agent = AgentSchema().load({"name": "noisy", "noise": noise})
        rule = TurnRule.of(agent)
        detector, _ = detector_for(rule, None, 8000, 500, lambda why: None, logging.getLogger(__name__))
        assert (detector.noise is not None) == (noise == "rnnoise")
        events = [e for start in range(0, len(tones), 320) for e in detector.feed(tones[start : start + 320], 0.0)]
        started[noise] = any(isinstance(e, SpeechStarted) for e in events)
        assert rms(detector.frame) < 500 or noise == "none"
    assert started == {"none": True, "rnnoise": False}


def test_a_bad_noise_setting_is_a_field_error() -> None:
    with pytest.raises(ValidationError) as caught:
        AgentSchema().load({"name": "x", "noise": "krisp"})
    assert caught.value.messages == {"noise": ["Must be one of: none, rnnoise."]}
    assert AgentSchema().load({"name": "x"})["noise"] == "none"


def test_without_pyrnnoise_an_agent_asking_for_it_is_not_loaded_and_says_what_to_install(tmp_path: Path) -> None:
    """A process where the package cannot be found: the agent file is reported, the others load."""
    (tmp_path / "quiet.yaml").write_text("name: quiet\nnoise: rnnoise\n")
    (tmp_path / "plain.yaml").write_text("name: plain\n")
    program = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["pyrnnoise"] = None  # as if it were not installed: find_spec finds nothing
        from app.agents.book import load_agents
        book = load_agents({str(tmp_path)!r}, "plain")
        print(json.dumps({{"agents": sorted(book.agents), "errors": [[e.file, e.errors] for e in book.errors]}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["agents"] == ["plain"]
    [[file, errors]] = result["errors"]
    assert file == "quiet.yaml" and list(errors) == ["noise"]
    assert "pip install 'callstream[noise]'" in errors["noise"][0] and "pyrnnoise==0.4.5" in errors["noise"][0]
