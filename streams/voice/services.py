"""What every call's voice pipeline shares (models, the TTS pool, tuning), and what an agent lets vosk hear
(its intents' phrases, yes and no to a retry offer, the backchannels it names for false interruptions)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.speech.reserve import Reserve
from streams.speech.stt import SpeechModels
from streams.speech.tts import TTSPool
from streams.turns.models import TurnModels
from streams.voice.dialogue import Policy, retry_words


@dataclass
class VoiceServices:
    """What every call's pipeline shares: models, the TTS pool, tuning."""

    models: SpeechModels
    tts: TTSPool
    stt_chunk_ms: int = 100
    min_confidence: float = 0.5
    vad_threshold: int = 500
    turn_models: TurnModels | None = None  # Silero VAD and Smart Turn (agents' turn.vad / turn.end)
    make_policy: Callable[[Mapping[str, Any]], Policy] | None = None
    reply_deadline: float = 5.0  # seconds a decided reply may wait, with nothing playing, before the call is ended
    reserve: Reserve | None = None  # warm free-speech recognisers made ahead of calls


def grammar_phrases(agent: Mapping[str, Any]) -> list[str] | None:
    """The phrases vosk may hear for this agent (with yes and no to a retry offer), or None for free speech."""
    if not agent.get("grammar"):
        return None
    phrases = [p for i in agent.get("intents", []) for p in i["phrases"]]
    if agent.get("human"):
        phrases += [p for words in retry_words(agent) for p in words if p not in phrases]
    resume = (agent.get("interruption") or {}).get("resume") or {}
    phrases += [p for p in resume.get("backchannels", ()) if p not in phrases]  # so vosk can hear an "uh-huh"
    return phrases
