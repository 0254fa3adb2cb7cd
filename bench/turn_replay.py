"""Turn detectors replayed over the generated test set, faster than real time, with the real models.

Each clip gets 500 ms before and 2.5 s after it and a -55 dBFS line-noise floor
under all of it, and goes through ``TurnDetector`` in 20 ms frames at the
stream rate. When the smart rule asks about a pause, the model runs there and
then (timed), and its verdict reaches the detector that many milliseconds of
audio later, as it would on a live call. Figures per detector: when complete
turns are ended (after the true end of speech), paused utterances cut at the
pause, noise taken for speech, and the CPU it costs (with ``noise: rnnoise``, the
filter's too: the detector denoises each frame before its VAD, as on a call).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emulator.turnset import Clip
from streams.audio import frame_bytes
from streams.turns.models import SILERO_FILE, SMART_FILE, TurnModels
from streams.turns.noise import filter_for
from streams.turns.rules import PauseHeard, SpeechStarted, TurnDetector, TurnEnded, TurnRule

LEAD_MS, TAIL_MS = 500, 2500


@dataclass
class Replayed:
    starts: list[float]  # ms into the clip
    ends: list[tuple[float, str]]  # (ms into the clip when the turn was ended, by what)
    vad_cpu_ms: float
    model_cpu_ms: float
    model_wall_ms: list[float]
    audio_ms: float


def _with_floor(pcm: bytes, rate: int, seed: int) -> bytes:
    lead, tail = np.zeros(rate * LEAD_MS // 1000), np.zeros(rate * TAIL_MS // 1000)
    signal = np.concatenate((lead, np.frombuffer(pcm, np.int16).astype(np.float64), tail))
    floor = np.random.default_rng(seed).standard_normal(len(signal)) * 32767 * 10 ** (-55 / 20)
    return np.clip(signal + floor, -32768, 32767).astype(np.int16).tobytes()


def replay(clip: Clip, rule: TurnRule, models: TurnModels, rate: int, energy_threshold: int = 500) -> Replayed:
    """One clip through a fresh detector (its own VAD state, as a call has)."""
    detector = TurnDetector(rate, rule, models.vad(rule, rate, energy_threshold), noise=filter_for(rule.noise, rate))
    smart = models.smart() if rule.end == "smart" else None
    pcm = _with_floor(clip.pcm(rate), rate, seed=len(clip.name))
    size, step = frame_bytes(rate), 20.0
    heard: list[bytes] = []
    pending: list[tuple[float, int, float]] = []  # (when the verdict arrives, pause n, probability)
    out = Replayed([], [], 0.0, 0.0, [], len(pcm) / 2 / rate * 1000)
    for i in range(0, len(pcm) - size + 1, size):
        t = i / 2 / rate * 1000 - LEAD_MS  # ms into the clip, at the end of this frame
        frame = pcm[i : i + size]
        events: list[Any] = [e for due, n, p in pending if due <= t for e in detector.verdict(n, p)]
        pending = [item for item in pending if item[0] > t]
        cpu = time.process_time()
        events += detector.feed(frame, t)
        out.vad_cpu_ms += (time.process_time() - cpu) * 1000
        heard = heard[-399:] + [frame] if detector.in_speech or events else []
        for event in events:
            if isinstance(event, SpeechStarted):
                out.starts.append(t)
            elif isinstance(event, TurnEnded):
                out.ends.append((t + step, event.by))
            elif isinstance(event, PauseHeard) and smart is not None:
                wall, cpu = time.perf_counter(), time.process_time()
                probability = smart.probability(b"".join(heard), rate)
                out.model_cpu_ms += (time.process_time() - cpu) * 1000
                out.model_wall_ms.append((time.perf_counter() - wall) * 1000)
                pending.append((t + out.model_wall_ms[-1], event.n, probability))
    return out


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def score(clips: list[Clip], rule: TurnRule, models: TurnModels, rate: int) -> dict[str, Any]:
    """One detector's figures over the whole set."""
    delays, premature, split, false_starts, turns = [], 0, 0, 0, 0
    vad_cpu = model_cpu = audio = 0.0
    walls: list[float] = []
    for clip in clips:
        got = replay(clip, rule, models, rate)
        vad_cpu, model_cpu, audio = vad_cpu + got.vad_cpu_ms, model_cpu + got.model_cpu_ms, audio + got.audio_ms
        walls += got.model_wall_ms
        turns += len(got.ends)
        if clip.kind == "noise":
            false_starts += bool(got.starts)
            continue
        final = [at for at, _ in got.ends if at >= clip.speech_end_ms]
        if final and clip.kind == "complete":
            delays.append(final[0] - clip.speech_end_ms)
        if clip.kind == "paused" and clip.pause and any(clip.pause[0] < at <= clip.pause[1] + 20 for at, _ in got.ends):
            premature += 1
        if clip.kind == "complete" and any(at < clip.speech_end_ms for at, _ in got.ends):
            split += 1
    complete = [c for c in clips if c.kind == "complete"]
    return {
        "end_delay_p50_ms": _pct(delays, 0.5),
        "end_delay_p95_ms": _pct(delays, 0.95),
        "complete_split": split,
        "complete": len(complete),
        "paused_cut": premature,
        "paused": sum(c.kind == "paused" for c in clips),
        "noise_false_starts": false_starts,
        "noise": sum(c.kind == "noise" for c in clips),
        "vad_cpu_ms_per_s": round(vad_cpu / audio * 1000, 2),
        "model_cpu_ms_per_turn": round(model_cpu / max(turns, 1), 1),
        "model_wall_ms_p50": _pct(walls, 0.5),
        "model_calls": len(walls),
        "cpu_ms_per_turn": round((vad_cpu + model_cpu) / max(turns, 1), 1),
        "turns": turns,
    }


def model_sizes(models: TurnModels) -> dict[str, float]:
    return {name: round(Path(models.folder, name).stat().st_size / 1e6, 1) for name in (SILERO_FILE, SMART_FILE)}
