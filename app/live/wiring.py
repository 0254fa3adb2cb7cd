"""Wiring the voice pipeline into the app: models, the TTS pool, policies, metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from app.config import tool_secret
from streams.machine import Busy, memory_room, usable_cores
from streams.speech.reserve import Reserve, target_for
from streams.speech.stt import HOW_TO_GET_ONE, SpeechModels, find_models
from streams.speech.tts import TTSPool
from streams.turns.models import TurnModels
from streams.voice.dialogue import Policy, ScriptedPolicy
from streams.voice.llm import LLMPolicy
from streams.voice.port import CallPort, VoiceFactory
from streams.voice.services import VoiceServices
from streams.voice.tools import HttpTool, ToolBox
from streams.voice.voice_pipeline import VoicePipeline

log = logging.getLogger(__name__)


def make_policy_factory(config: Mapping[str, Any]):  # type: ignore[no-untyped-def]
    def make(agent: Mapping[str, Any]) -> Policy:
        if agent.get("policy") == "llm" and config["LLM_URL"]:
            return LLMPolicy(
                agent,
                url=config["LLM_URL"],
                model=config["LLM_MODEL"],
                api_key=config["LLM_API_KEY"],
                timeout=config["LLM_TIMEOUT"],
                min_confidence=config["STT_MIN_CONFIDENCE"],
                tools=tool_box(agent, config.get("TOOL_HOSTS", ())),
            )
        if agent.get("policy") == "llm":
            log.warning("agent %s asks for the LLM policy but LLM_URL is not set: using its script", agent["name"])
        return ScriptedPolicy(agent, config["STT_MIN_CONFIDENCE"])

    return make


def tool_box(agent: Mapping[str, Any], hosts: Any) -> ToolBox:
    """The agent's tools (#23.1), secret headers read from the environment variables its file names."""
    tools = agent.get("tools") or {}
    for spec in tools.get("http", ()):
        missing = [v for v in (spec.get("secret_headers") or {}).values() if not tool_secret(v)]
        if missing:
            log.warning("agent %s tool %s: environment variable(s) %s not set", agent["name"], spec["name"], missing)
    http = [HttpTool.of(spec, tool_secret) for spec in tools.get("http", ())]
    return ToolBox(tools.get("builtin", ()), http, tuple(hosts))


def voice_services(config: Mapping[str, Any]) -> VoiceServices | None:
    """The shared half of every call's voice pipeline, or None when VOICE_ENABLED is off."""
    if not config["VOICE_ENABLED"]:
        log.warning("VOICE_ENABLED is off: calls stream, but nobody listens or speaks")
        return None
    search = find_models(config["VOSK_MODEL_PATH"], Path(config["MODELS_DIR"]))
    if not search.found:
        log.error(
            "NO SPEECH RECOGNITION: no vosk model found (looked in: %s). Calls get the greeting, then the agent's "
            "no-STT rule (default: a person). To hear callers, %s.",
            "; ".join(search.looked),
            HOW_TO_GET_ONE,
        )
    models = SpeechModels(search, profile=config["STT_PROFILE"])
    target = target_for(config["STT_WARM_FREE"], usable_cores(), config["CALLSTREAM_WORKERS"])
    return VoiceServices(
        models=models,
        tts=TTSPool(config["TTS_WORKERS"], config["TTS_TIMEOUT"], config["TTS_CACHE_SIZE"]),
        stt_chunk_ms=config["STT_CHUNK_MS"],
        min_confidence=config["STT_MIN_CONFIDENCE"],
        vad_threshold=config["VAD_THRESHOLD"],
        turn_models=TurnModels(Path(config["TURN_MODELS_DIR"])),
        make_policy=make_policy_factory(config),
        reply_deadline=config["REPLY_DEADLINE"],
        reserve=Reserve(models, target, config["STT_WARM_SPARE"], room=memory_room, quiet=_quiet()),
    )


QUIET = 0.5  # the machine's CPU share under which the warm reserve may make a recogniser while calls are up


def _quiet() -> Callable[[], bool]:
    """Whether the machine's CPUs were under ``QUIET`` busy since the last time this was asked."""
    busy = Busy()

    def quiet() -> bool:
        share = busy.share()
        return share is None or share < QUIET

    return quiet


def pipeline_factory(services: VoiceServices, agent: Mapping[str, Any], outbound: bool = False) -> VoiceFactory:
    """What a new call uses to build its voice pipeline around its port."""

    def make(port: CallPort) -> VoicePipeline:
        return VoicePipeline(port, agent, services, outbound=outbound)

    return make
