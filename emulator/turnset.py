"""A generated test set for turn-taking: espeak-ng utterances and noise, deterministic, cached as WAVs.

- ``complete``: a whole sentence (English and Korean).
- ``paused``: a sentence cut in two by a 400-700 ms pause where a person would
  pause to think ("My phone number is ... nine eight seven").
- ``noise``: white noise, babble (several espeak voices at once), music-like
  chords and DTMF-like tone pairs, each at -40, -30 and -20 dBFS (RMS).

Every clip is 16 kHz L16 mono; ``speech_end_ms`` is where its last word ends
and ``pause`` the (start, end) of a paused clip's gap, in ms. The same code and
espeak-ng version give the same clips; they are kept under the temp dir
(``TURNSET_DIR`` to move it) and only generated once.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from emulator.script import read_wav, speak
from streams.audio import wav_bytes

RATE = 16000
VERSION = 1
COMPLETE = {
    "en-us": [
        "I would like to check the status of my order.",
        "Can you transfer me to the billing department please?",
        "Yes, that is correct.",
        "I want to cancel my subscription today.",
        "My account number is four five six seven.",
        "Thank you, that is all I needed.",
    ],
    "ko": [
        "주문 상태를 확인하고 싶습니다.",
        "상담원 연결해 주세요.",
        "네, 맞습니다.",
        "예약을 취소하고 싶어요.",
        "내일 오후에 방문하겠습니다.",
        "감사합니다. 더 필요한 것은 없어요.",
    ],
}
PAUSED = {
    "en-us": [
        ("I would like to check the status of", "my order from last week."),
        ("My phone number is", "nine eight seven six five."),
        ("I was hoping you could help me with", "a problem on my bill."),
        ("Can you tell me", "when the store opens tomorrow?"),
        ("I need to change the", "delivery address for my parcel."),
        ("The problem started when", "I tried to log in yesterday."),
    ],
    "ko": [
        ("제 전화번호는", "공일공 일이삼사 오육칠팔 입니다."),
        ("주문한 상품이", "아직 도착하지 않았어요."),
        ("내일 오후에", "예약을 변경하고 싶습니다."),
        ("제가 어제", "결제를 했는데 확인이 안 돼요."),
        ("배송 주소를", "바꾸고 싶습니다."),
        ("그러니까 제 말은", "환불을 받고 싶다는 거예요."),
    ],
}
NOISES = ("white", "babble", "music", "dtmf")
LEVELS_DBFS = (-40, -30, -20)
NOISE_MS = 3000


@dataclass(frozen=True)
class Clip:
    name: str
    kind: str  # complete, paused, noise
    language: str  # en, ko; "" for noise
    speech_end_ms: float  # 0 for noise
    pause: tuple[float, float] | None = None  # paused clips: the gap, ms
    path: str = ""

    def pcm(self, rate: int = RATE) -> bytes:
        """The clip as L16 at ``rate``."""
        return read_wav(Path(self.path), rate)


def _ms(pcm: bytes) -> float:
    return len(pcm) / 2 / RATE * 1000


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, np.int16).astype(np.float64)


def _scaled(signal: np.ndarray, dbfs: float) -> bytes:
    """``signal`` scaled to an RMS of ``dbfs`` (re full scale), as L16."""
    rms = float(np.sqrt(np.mean(signal**2))) or 1.0
    out = signal * (32767 * 10 ** (dbfs / 20) / rms)
    return np.clip(out, -32768, 32767).astype(np.int16).tobytes()


def _noise(kind: str, rng: np.random.Generator) -> np.ndarray:
    n = RATE * NOISE_MS // 1000
    t = np.arange(n) / RATE
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "babble":  # four voices talking over each other
        mix = np.zeros(n)
        lines = [("en-us", COMPLETE["en-us"][1]), ("ko", COMPLETE["ko"][0]), ("en+f3", COMPLETE["en-us"][3])]
        lines.append(("ko", COMPLETE["ko"][5]))
        for i, (voice, text) in enumerate(lines):
            speech = _samples(speak(text, voice, 150 + 15 * i, RATE))
            speech = np.tile(speech, n // len(speech) + 2)[i * 1700 :][:n]
            mix += speech
        return mix
    if kind == "music":  # chords of harmonic tones, 250 ms each, with a decay
        out = np.zeros(n)
        note = RATE // 4
        for start in range(0, n, note):
            root = 220 * 2 ** (rng.integers(0, 12) / 12)
            seg = t[: min(note, n - start)]
            chord = sum(np.sin(2 * math.pi * root * r * h * seg) / h for r in (1, 1.26, 1.5) for h in (1, 2, 3))
            out[start : start + len(seg)] = chord * np.exp(-seg * 6)
        return out
    # DTMF-like: a random key every 200 ms, 120 ms on
    out = np.zeros(n)
    for start in range(0, n, RATE // 5):
        low, high = rng.choice([697, 770, 852, 941]), rng.choice([1209, 1336, 1477])
        seg = t[: min(RATE * 120 // 1000, n - start)]
        out[start : start + len(seg)] = np.sin(2 * math.pi * low * seg) + np.sin(2 * math.pi * high * seg)
    return out


def _generate(folder: Path) -> list[Clip]:
    rng = np.random.default_rng(15)
    clips: list[Clip] = []

    def save(clip: Clip, pcm: bytes) -> None:
        path = folder / f"{clip.name}.wav"
        path.write_bytes(wav_bytes(pcm, RATE))
        clips.append(Clip(**{**asdict(clip), "path": str(path)}))

    for voice, lines in COMPLETE.items():
        for i, text in enumerate(lines):
            pcm = speak(text, voice, 160, RATE)
            save(Clip(f"complete-{voice[:2]}-{i}", "complete", voice[:2], _ms(pcm) - 60), pcm)
    for voice, pairs in PAUSED.items():
        for i, (first, second) in enumerate(pairs):
            gap = int(rng.integers(400, 701))  # espeak's own 60 ms edges are part of the gap
            a, b = speak(first, voice, 160, RATE), speak(second, voice, 160, RATE)
            pcm = a + b"\x00\x00" * (RATE * (gap - 120) // 1000) + b
            pause = (_ms(a) - 60, _ms(a) - 60 + gap)
            save(Clip(f"paused-{voice[:2]}-{i}", "paused", voice[:2], _ms(pcm) - 60, pause), pcm)
    for kind in NOISES:
        signal = _noise(kind, rng)
        for level in LEVELS_DBFS:
            save(Clip(f"noise-{kind}{level}", "noise", "", 0.0), _scaled(signal, level))
    return clips


def turnset(folder: Path | None = None) -> list[Clip]:
    """The clips, generated into ``folder`` (default: the temp dir) unless already there."""
    key = hashlib.sha256(json.dumps([VERSION, COMPLETE, PAUSED, NOISES, LEVELS_DBFS]).encode()).hexdigest()[:10]
    base = Path(os.environ.get("TURNSET_DIR") or Path(tempfile.gettempdir()) / "callstream-turnset")
    folder = folder or base / key
    manifest = folder / "clips.json"
    if manifest.is_file():
        stored = json.loads(manifest.read_text())
        return [Clip(**{**c, "pause": tuple(c["pause"]) if c["pause"] else None}) for c in stored]
    folder.mkdir(parents=True, exist_ok=True)
    clips = _generate(folder)
    partial = manifest.with_suffix(".tmp")
    partial.write_text(json.dumps([asdict(c) for c in clips], ensure_ascii=False, indent=1))
    partial.replace(manifest)  # a half-written set is never taken for a whole one
    return clips


def said(clip: Clip) -> str:
    """What a complete or paused clip says (its text, for recognition figures); "" for noise."""
    if clip.kind == "noise":
        return ""
    voice = "en-us" if clip.language == "en" else "ko"
    n = int(clip.name.rsplit("-", 1)[1])
    return COMPLETE[voice][n] if clip.kind == "complete" else " ".join(PAUSED[voice][n])


def under_noise(speech: bytes, noise: bytes, dbfs: float) -> bytes:
    """``speech`` with ``noise`` (looped to its length) under it at ``dbfs`` RMS re full scale; same rate, L16."""
    voice, din = _samples(speech), _samples(noise)
    din = np.tile(din, len(voice) // max(len(din), 1) + 1)[: len(voice)]
    loud = np.frombuffer(_scaled(din, dbfs), np.int16).astype(np.float64)
    return np.clip(voice + loud, -32768, 32767).astype(np.int16).tobytes()
