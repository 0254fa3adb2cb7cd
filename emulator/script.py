"""Caller scripts: what the emulated caller says, plays, presses and waits for.

A script is YAML or JSON:

    from: "919876543210"        # the caller (inbound) / the callee's number (outbound)
    to: "918000000002"          # the number dialled (inbound), which picks the agent
    voice: ko                   # espeak-ng voice for `say` steps
    speed: 175                  # espeak-ng words per minute (its default)
    steps:
      - listen: reply           # send silence until the bot has spoken and gone quiet
      - say: "네"                # speak (espeak-ng), real time, 20 ms frames
      - listen: 1.5             # send 1.5 s of silence
      - wav: hello.wav          # any WAV, resampled to the stream rate
      - tone: 500               # 500 ms of 440 Hz
      - dtmf: "2"               # digits for the next input / play_get_input
      - hangup: true            # the caller hangs up here
    linger: 1.0                 # silence after the last step, then hang up
    max_seconds: 60             # hard stop for the whole call
    repeat: false               # loop the steps until max_seconds (load tests)
    human: answer               # a transfer's person: answer | no_answer | silent, or a list (one per bridge)
    ring_seconds: 1.0           # how long their phone rings before they answer (or it rings out)
    expect:                     # optional: what must happen, else the call fails (exit status 1)
      min_turns: 2              # caller utterances that got a reply (default: at least one, if the caller spoke)
      max_latency_ms: 1500      # every reply within this
      transfer: true            # a bridge happened (false: none did)
      end: caller_hangup        # how the call ended (or a list of ways)
      says: ["알겠습니다"]        # phrases the bot must say (needs --api-key: the service's transcript)

docs/emulator.md documents every field.
"""

from __future__ import annotations

import io
import json
import subprocess
import wave
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from streams.audio import resample, silence, tone

STEP_KINDS = ("say", "listen", "wav", "tone", "dtmf", "hangup")
EXPECT_KEYS = ("min_turns", "max_latency_ms", "transfer", "end", "says")
END_HOWS = ("caller_hangup", "bot_hangup", "closed_by_service", "stream_stopped", "max_seconds", "pcmo_done", "error")


class ScriptError(ValueError):
    pass


@dataclass
class Script:
    steps: list[dict[str, Any]]
    from_number: str = "919876543210"
    to_number: str = "919111111111"
    voice: str = "en-us"
    speed: int = 175
    linger: float = 1.0
    max_seconds: float = 60.0
    repeat: bool = False
    base_dir: Path = field(default_factory=Path.cwd)
    expect: dict[str, Any] = field(default_factory=dict)
    agent: str | None = None  # the agent --agent dialled, for the report
    human: list[str] = field(default_factory=lambda: ["answer"])  # per bridge; the last one repeats
    ring_seconds: float = 1.0

    def human_for(self, bridge: int) -> str:
        """What the person does about the ``bridge``-th transfer (0-based)."""
        return self.human[min(bridge, len(self.human) - 1)]

    def dtmf_digits(self) -> list[str]:
        return [str(step["dtmf"]) for step in self.steps if "dtmf" in step]


def parse_script(data: dict[str, Any], base_dir: Path | None = None) -> Script:
    if not isinstance(data, dict) or not isinstance(data.get("steps", []), list):
        raise ScriptError("a caller script is a mapping with a list of steps")
    steps = data.get("steps", [])
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or len(set(step) & set(STEP_KINDS)) != 1:
            raise ScriptError(f"step {index}: give exactly one of {', '.join(STEP_KINDS)}")
    return Script(
        steps=steps,
        from_number=str(data.get("from", "919876543210")),
        to_number=str(data.get("to", "919111111111")),
        voice=str(data.get("voice", "en-us")),
        speed=int(data.get("speed", 175)),
        linger=float(data.get("linger", 1.0)),
        max_seconds=float(data.get("max_seconds", 60.0)),
        repeat=bool(data.get("repeat", False)),
        base_dir=base_dir or Path.cwd(),
        expect=parse_expect(data.get("expect")),
        human=parse_human(data.get("human", "answer")),
        ring_seconds=float(data.get("ring_seconds", 1.0)),
    )


def parse_human(raw: Any) -> list[str]:
    """``human:`` one behaviour or a list of them, one per bridge (the last repeats)."""
    from emulator.human import BEHAVIOURS

    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values or any(v not in BEHAVIOURS for v in values):
        raise ScriptError(f"human: one of (or a list of) {', '.join(BEHAVIOURS)}")
    return list(values)


def parse_expect(raw: Any) -> dict[str, Any]:
    """The ``expect:`` section, checked now so a typo fails before the call rather than after it."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ScriptError("expect: is a mapping (min_turns, max_latency_ms, transfer, end, says)")
    unknown = sorted(set(raw) - set(EXPECT_KEYS))
    if unknown:
        raise ScriptError(f"expect: unknown key(s) {', '.join(unknown)}; known: {', '.join(EXPECT_KEYS)}")
    for key in ("min_turns", "max_latency_ms"):
        if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], (int, float)) or raw[key] < 0):
            raise ScriptError(f"expect.{key}: a number, 0 or more")
    if "transfer" in raw and not isinstance(raw["transfer"], bool):
        raise ScriptError("expect.transfer: true or false")
    if "end" in raw:
        ends = [raw["end"]] if isinstance(raw["end"], str) else raw["end"]
        if not isinstance(ends, list) or not ends or any(e not in END_HOWS for e in ends):
            raise ScriptError(f"expect.end: one of (or a list of) {', '.join(END_HOWS)}")
    if "says" in raw:
        says = [raw["says"]] if isinstance(raw["says"], str) else raw["says"]
        if not isinstance(says, list) or not all(isinstance(p, str) and p for p in says):
            raise ScriptError("expect.says: a phrase or a list of phrases")
        raw = {**raw, "says": says}
    return dict(raw)


def load_script(path: str | Path) -> Script:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ScriptError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    return parse_script(data, path.parent)


@lru_cache(maxsize=256)
def speak(text: str, voice: str, speed: int, rate: int) -> bytes:
    """espeak-ng says ``text``; L16 mono at ``rate``, leading/trailing silence trimmed to 60 ms."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
        timeout=30,
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        pcm = reader.readframes(reader.getnframes())
        source_rate = reader.getframerate()
    # Linear interpolation (audioop), as before soxr (#23.7): the turn-taking tests and `bench turns` were
    # measured with this caller voice, and the Smart Turn model judges espeak's "That is correct." differently
    # once it is band-limited (tests/service/test_turn_taking.py then waits max_wait). Until the turn set is
    # re-measured on band-limited speech, the emulated caller keeps the voice those figures were made with.
    import audioop

    return _trim(audioop.ratecv(pcm, 2, 1, source_rate, rate, None)[0], rate)


def _trim(pcm: bytes, rate: int, threshold: int = 300) -> bytes:
    import audioop

    step = int(rate * 0.01) * 2
    start, end = 0, len(pcm)
    while start < end and audioop.rms(pcm[start : start + step], 2) < threshold:
        start += step
    while end > start and audioop.rms(pcm[max(end - step, start) : end], 2) < threshold:
        end -= step
    keep = int(rate * 0.06) * 2
    return pcm[max(0, start - keep) : min(len(pcm), end + keep)]


def read_wav(path: Path, rate: int) -> bytes:
    with wave.open(str(path)) as reader:
        if reader.getsampwidth() != 2:
            raise ScriptError(f"{path}: only 16-bit WAV is supported")
        pcm = reader.readframes(reader.getnframes())
        if reader.getnchannels() == 2:
            import audioop

            pcm = audioop.tomono(pcm, 2, 0.5, 0.5)
        return resample(pcm, reader.getframerate(), rate)


def prepare(script: Script, rates: tuple[int, ...] = (8000, 16000)) -> None:
    """Synthesise every ``say`` step now (cached), so no call's sender waits on espeak-ng mid-stream.

    Under load, the first utterance of many calls at once would otherwise start one espeak-ng each,
    and their frames would go out late: the load generator, not the service, falling behind.
    """
    for step in script.steps:
        if "say" in step:
            for rate in rates:
                step_audio(script, step, rate)


def step_audio(script: Script, step: dict[str, Any], rate: int) -> bytes:
    """The audio a speaking step sends (say, wav, tone)."""
    if "say" in step:
        return speak(str(step["say"]), str(step.get("voice", script.voice)), int(step.get("speed", script.speed)), rate)
    if "wav" in step:
        return read_wav(script.base_dir / str(step["wav"]), rate)
    if "tone" in step:
        return tone(rate, float(step["tone"]), float(step.get("freq", 440.0)))
    return silence(rate, 0)
