"""python -m bench turns: turn-taking detectors against today's energy VAD, on the generated test set.

Two parts, the same detectors in both:

- replay (``bench/turn_replay.py``): all 36 clips (complete and paused
  utterances in English and Korean, noise) through each detector, faster than
  real time, with the real models: when complete turns end, paused ones cut at
  the pause, noise taken for speech, CPU per turn and per second of audio.
- live: the 12 complete utterances, one after another on one call per detector,
  through the real service (gunicorn, vosk, pyttsx3) and the emulator; reply
  latency as the caller hears it (last loud frame -> first reply byte) and the
  worker's CPU per turn.

Capacity: the detector's own CPU per call (VAD per second of audio plus the
turn model per turn, a turn every ~6 s) as a share of one core.

The noise filter (``noise: rnnoise``, #23.4): two more detectors with it, and
``bench/noise_filter.py``'s recognition with and without it and its CPU per
frame. ``--only noise`` runs just those (the energy and Silero rows with and
without the filter, replay and live) in a few minutes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

from bench.harness import TOKEN, script, voice_service
from bench.noise_filter import filter_cpu, noise_table, recognition
from bench.turn_replay import model_sizes, score
from emulator.service import ROOT, run_emulator
from emulator.turnset import turnset
from streams.turns.models import TurnModels
from streams.turns.rules import TurnRule

DETECTORS: dict[str, tuple[TurnRule, int]] = {  # label -> (rule, stream rate)
    "energy, silence 300 (today)": (TurnRule(), 8000),
    "silero, silence 300": (TurnRule(vad="silero"), 8000),
    "silero, silence 150": (TurnRule(vad="silero", hangover_ms=150), 8000),
    "silero + smart, 8 kHz": (TurnRule(vad="silero", end="smart"), 8000),
    "silero + smart, 16 kHz": (TurnRule(vad="silero", end="smart"), 16000),
    "energy + rnnoise": (TurnRule(noise="rnnoise"), 8000),
    "silero + rnnoise": (TurnRule(vad="silero", noise="rnnoise"), 8000),
}
NOISE_ROWS = ("energy, silence 300 (today)", "energy + rnnoise", "silero, silence 300", "silero + rnnoise")
SECONDS_PER_TURN = 6.0  # a caller turn every ~6 s of call, for the capacity estimate
# From bench/reference (README, 2026-11-21): 125 phrase-grammar calls, the worker at ~1.06% of a core per call.
PHRASE_CALLS, PHRASE_PCT_PER_CALL = 125, 1.06


def _agents(tmp: Path, detectors: dict[str, tuple[TurnRule, int]]) -> tuple[Path, dict[str, str]]:
    """One agent per detector (demo-ko, no DTMF menu, never hands off for misses); name -> its number."""
    folder = tmp / "turn-agents"
    folder.mkdir(exist_ok=True)
    base = yaml.safe_load((ROOT / "agents" / "demo-ko.yaml").read_text())
    base.pop("dtmf_menu", None)
    numbers = {}
    for i, (label, (rule, rate)) in enumerate(detectors.items()):
        name, number = f"turns-{i}", f"91800000{300 + i}"
        turn = {k: getattr(rule, k) for k in ("vad", "end", "hangover_ms", "silence_ms", "max_wait_ms")}
        agent = {**base, "name": name, "numbers": [number], "max_misses": 100, "turn": turn, "noise": rule.noise}
        replies_only = [intent for intent in base["intents"] if intent.get("action") is None]  # none can end a call
        agent.update(stream={"voice_quality": rate}, intents=replies_only)
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(agent, allow_unicode=True))
        numbers[label] = name
    return folder, numbers


def _live(tmp: Path, clips: list[Any], detectors: dict[str, tuple[TurnRule, int]]) -> dict[str, dict[str, Any]]:
    complete = [c for c in clips if c.kind == "complete"]
    steps: list[dict[str, Any]] = [{"listen": "reply"}]
    for clip in complete:
        steps += [{"wav": clip.path}, {"listen": "reply"}]
    caller = script(tmp, "turn-caller", {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 180})
    folder, agents = _agents(tmp, detectors)
    results = {}
    with voice_service(tmp, folder) as svc:
        worker = psutil.Process(svc.master_pid).children()[0]
        for label, agent in agents.items():
            before, started = sum(worker.cpu_times()[:2]), time.monotonic()
            report = run_emulator(
                "call", "--service", svc.url, "--token", TOKEN, "--agent", agent, "--agents-dir", str(folder),
                "--script", str(caller), timeout=300,
            )  # fmt: skip
            cpu_s, seconds = sum(worker.cpu_times()[:2]) - before, time.monotonic() - started
            latencies = sorted(report["reply_latency_ms"])
            results[label] = {
                "replies": len(latencies),
                "of": len(complete),
                "p50_ms": latencies[len(latencies) // 2] if latencies else None,
                "p95_ms": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else None,
                "worker_cpu_ms_per_turn": round(cpu_s * 1000 / max(len(latencies), 1)),
                "worker_cpu_pct": round(cpu_s / seconds * 100, 2),  # of one core, over the whole call
                "errors": report["errors"],
            }
            print(f"  live {label}: reply p50 {results[label]['p50_ms']} ms ({len(latencies)} replies)", flush=True)
    return results


def bench_turns(tmp: Path, live: bool = True, only: str | None = None) -> dict[str, Any]:
    """Every detector, or with ``only="noise"`` the rows with and without the noise filter (and its figures)."""
    models = TurnModels(ROOT / "models" / "turn")
    if models.missing_for(TurnRule(vad="silero", end="smart")):
        return {"skipped": "turn models not installed (make setup runs scripts/get_turn_models.py)"}
    detectors = {k: v for k, v in DETECTORS.items() if only != "noise" or k in NOISE_ROWS}
    clips = turnset()
    load_before = os.getloadavg()
    replayed = {}
    for label, (rule, rate) in detectors.items():
        replayed[label] = row = score(clips, rule, models, rate)
        model_ms_per_s = row["model_cpu_ms_per_turn"] / SECONDS_PER_TURN
        row["detector_cpu_pct_per_call"] = round((row["vad_cpu_ms_per_s"] + model_ms_per_s) / 10, 2)
        print(f"  replay {label}: end p50 {row['end_delay_p50_ms']} ms, cut {row['paused_cut']}", flush=True)
    noise = {"filter_cpu": filter_cpu(clips), "recognition": recognition(clips)}
    live_rows = _live(tmp, clips, detectors) if live else {}
    _capacity(replayed, live_rows)
    return {
        "noise_filter": noise,
        "clips": len(clips),
        "models_mb": model_sizes(models),
        "replay": replayed,
        "live": live_rows,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
    }


def _capacity(replayed: dict[str, Any], live: dict[str, Any]) -> None:
    """Each detector's extra CPU per call over today's, and the phrase-grammar calls that leaves one worker.

    From the live calls (worker CPU over the call, warm or cold caches as they come) when there are any,
    else from the replay (warm: an underestimate).
    """
    today = next(iter(DETECTORS))
    for label, row in replayed.items():
        if live.get(label) and live.get(today):
            extra = live[label]["worker_cpu_pct"] - live[today]["worker_cpu_pct"]
        else:
            extra = row["detector_cpu_pct_per_call"] - replayed[today]["detector_cpu_pct_per_call"]
        row["extra_pct_per_call"] = round(max(extra, 0.0), 2)
        row["phrase_calls_estimate"] = round(PHRASE_CALLS * PHRASE_PCT_PER_CALL / (PHRASE_PCT_PER_CALL + extra))


def turn_table(result: dict[str, Any]) -> list[str]:
    """The turn-taking rows of the benchmark table."""
    if "skipped" in result:
        return ["", f"turn-taking: skipped ({result['skipped']})"]
    lines = [
        "",
        f"turn-taking: {result['clips']} generated clips; models {result['models_mb']} MB; "
        f"load {result['load_before']} -> {result['load_after']} on {result['cores']} cores",
        f"{'detector':<32}{'reply p50/p95':>14}{'end p50':>8}{'paused cut':>11}{'noise starts':>13}"
        f"{'CPU ms/turn':>12}{'model ms':>9}{'+%core/call':>12}{'calls*':>7}",
        f"{'goal (vs today)':<32}{'p50 <= 200':>14}{'':>8}{'fewer':>11}{'fewer':>13}",
    ]
    for label, row in result["replay"].items():
        live = result["live"].get(label) or {}
        reply = f"{live.get('p50_ms', '-')}/{live.get('p95_ms', '-')}" if live else "-"
        cpu = live.get("worker_cpu_ms_per_turn", row["cpu_ms_per_turn"])
        lines.append(
            f"{label:<32}{reply:>14}{row['end_delay_p50_ms'] or '-':>8}"
            f"{str(row['paused_cut']) + '/' + str(row['paused']):>11}"
            f"{str(row['noise_false_starts']) + '/' + str(row['noise']):>13}"
            f"{cpu:>12}{row['model_wall_ms_p50'] or '-':>9}{row['extra_pct_per_call']:>12}"
            f"{row['phrase_calls_estimate']:>7}"
        )
    lines += [
        "reply: live, caller side (last loud frame -> first reply byte), 12 complete utterances per detector; end: "
        "replay, true end of speech -> turn ended",
        "CPU ms/turn: the live worker's CPU per turn (vosk, TTS, the detector; replay-only runs: the detector alone); "
        "+%core/call: the live worker's CPU over the call minus today's",
        f"calls*: phrase-grammar calls one worker holds, estimated from today's {PHRASE_CALLS} at "
        f"{PHRASE_PCT_PER_CALL}% of a core per call plus +%core/call",
    ]
    return lines + noise_table(result.get("noise_filter") or {})
