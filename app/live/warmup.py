"""No cold first call: synthesise every agent's fixed lines and warm a recogniser per agent at start.

The first call after a start used to greet 1.4-1.8 s after its socket opened
(TTS workers starting, espeak-ng's first synthesis, a cold vosk graph); later
calls took 5-10 ms. Warming does that work once, before callers wait for it:
every line an agent says without an LLM (greeting, intent replies, fallback,
hold, goodbye, shutdown) goes into the TTS cache at the agent's stream rate,
and recognisers for each agent (its model, rate and grammar: one for a phrase
grammar, the reserve's target for free speech, streams/speech/reserve.py) decode
some of its speech and go back to the pool warm. ``/healthz`` says ``warming``
until then.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from flask import Flask

from app.piopiy.pcmo import stream_rate
from app.services import Services
from streams.link.settings import LinkSettings
from streams.machine import usable_cores
from streams.offload import in_gevent, run_blocking
from streams.session.speaker import sentences
from streams.speech.tts import TTSError
from streams.turns.models import TurnModels, needs
from streams.turns.rules import TurnRule
from streams.voice.hearing import stt_rate
from streams.voice.services import VoiceServices, grammar_phrases

log = logging.getLogger(__name__)

LINE_KEYS = ("fallback", "goodbye", "hold_message", "shutdown_message", "reprompt")


def agent_lines(agent: Mapping[str, Any]) -> Iterator[str]:
    """Every sentence the agent can say without an LLM."""
    texts = [agent.get("greeting") if agent.get("greeting_mode", "tts") == "tts" else None]
    texts += [intent.get("reply") for intent in agent.get("intents", [])]
    texts += [agent.get(key) for key in LINE_KEYS]
    texts += list((agent.get("filler") or {}).get("lines", ())) + [(agent.get("tools") or {}).get("waiting")]
    for text in texts:
        if text:
            yield from sentences(text)


def _line(voice: VoiceServices, agent: Mapping[str, Any], sentence: str, rate: int) -> bytes:
    """One of the agent's sentences in its voice at ``rate`` (the TTS cache's, once it is there)."""
    return voice.tts.synthesize(sentence, agent.get("voice", "en-us"), int(agent.get("rate", 160)), rate)


def _warm_speech(voice: VoiceServices, agent: Mapping[str, Any], rate: int) -> tuple[int, bytes]:
    """Synthesise the agent's lines into the cache; return how many, and some speech to warm STT with."""
    count, sample = 0, b""
    for sentence in agent_lines(agent):
        try:
            pcm = _line(voice, agent, sentence, rate)
        except TTSError as exc:  # one line that failed leaves the others to warm; no engine at all stops here
            log.warning("warm-up: agent %s: %s", agent["name"], exc)
            if voice.tts.available is False:
                break
            continue
        count += 1
        sample = sample or pcm
    return count, sample


WARM_LINES = 4  # of the agent's own lines a free-speech recogniser decodes before a call gets it


def _speech(voice: VoiceServices, agent: Mapping[str, Any], rate: int) -> list[bytes]:
    """Some of the agent's lines at ``rate`` (from the TTS cache when the stream speaks at that rate)."""
    speech = []
    for sentence in list(agent_lines(agent))[:WARM_LINES]:
        try:
            pcm = _line(voice, agent, sentence, rate)
        except TTSError:
            break
        speech.append(pcm)
    return speech


def _warm_hearing(voice: VoiceServices, agent: Mapping[str, Any], rate: int, sample: bytes, width: int) -> int:
    """Warm the agent's recognisers into the pool; return how many. A phrase grammar's is cheap to make and
    warm: one. A free-speech recogniser expands the model's lookahead graph for itself in its first turns (~1 s
    of CPU each on this machine against ~50 ms later): the reserve's target of them (streams/speech/reserve.py)
    decode the agent's lines now, ``width`` at a time (#21.5)."""
    model = voice.models.model_for(agent.get("language", "en"), wait=120, profile=agent.get("stt_profile"))
    if model is None:
        return 0
    rate, phrases = stt_rate(rate), grammar_phrases(agent)
    if not phrases and voice.reserve is not None:
        reserve = voice.reserve
        reserve.keep(model, rate, _speech(voice, agent, rate))
        missing = max(0, reserve.target - sum(voice.models.counts(voice.models.key(model, rate, None))))
        _in_parallel([lambda: run_blocking(reserve.make_one, model, rate)] * missing, width)
        return missing
    speech = (sample or b"\x00\x00" * rate)[: rate * 2]
    recognizer = run_blocking(voice.models.recognizer, model, rate, phrases)
    run_blocking(recognizer.accept, speech)
    run_blocking(recognizer.final)
    run_blocking(voice.models.release, recognizer)
    return 1


def _in_parallel(jobs: list[Callable[[], Any]], width: int) -> None:
    if not in_gevent():
        for job in jobs:
            job()
        return
    from gevent.pool import Pool

    Pool(max(1, width)).map(lambda job: job(), jobs)


def _warm_turns(voice: VoiceServices, agents: list[dict[str, Any]]) -> list[str]:
    """Load (and run once) the turn models the agents use, so no caller waits for a session to load."""
    models, wanted = voice.turn_models, {what for agent in agents for what in needs(TurnRule.of(agent))}
    loaded = []
    for what in sorted(wanted):
        if models is None or not models.has(what):
            continue
        try:
            run_blocking(_first_use, models, what)
        except Exception:  # noqa: BLE001 - a file that will not load: calls fall back and say so on their timeline
            log.exception("warm: the %s turn model failed to load", what)
            continue
        loaded.append(what)
    return loaded


def _first_use(models: TurnModels, what: str) -> None:
    if what == "smart":
        models.smart().probability(b"\x00\x00" * 16000, 16000)
    else:
        models.silero()


def warm(services: Services) -> dict[str, Any]:
    """Do the first call's slow work now (blocking this greenlet, not the loop)."""
    started = time.monotonic()
    voice = services.voice
    report: dict[str, Any] = {"lines": 0, "recognizers": 0}
    try:
        if voice is None:
            return report
        voice.tts.start()
        voice.models.start_loading()
        agents = list(services.agents.agents.values())
        needed = sum(len(list(agent_lines(a))) for a in agents)
        voice.tts.cache_size = max(voice.tts.cache_size, 2 * needed)  # fixed lines never fall out
        width = max(1, int(usable_cores() / services.config.get("CALLSTREAM_WORKERS", 1)))
        for agent in agents:
            rate = LinkSettings(stream_rate(services.config, agent)).out_rate  # what the call will synthesise at
            count, sample = _warm_speech(voice, agent, rate)
            report["lines"] += count
            report["recognizers"] += _warm_hearing(voice, agent, rate, sample, width)
        report["turn_models"] = _warm_turns(voice, agents)
        if voice.reserve is not None:
            voice.reserve.start()
    finally:
        report["seconds"] = round(time.monotonic() - started, 2)
        services.warming = False
        if services.load is not None:  # the warm-up's own stalls are not load: the first calls are taken
            services.load.forget()
        log.info("warm: %(lines)d lines in the TTS cache, %(recognizers)d recognisers, %(seconds)ss", report)
    return report


def warm_up(app: Flask) -> None:
    """In a serving process: size the thread pool, then warm TTS and STT in the background (``warm``)."""
    services = app.extensions["callstream"]
    if services.voice is None:
        return
    services.warming = True
    if in_gevent():
        import gevent

        if app.config["STT_THREADS"]:
            gevent.get_hub().threadpool.maxsize = app.config["STT_THREADS"]
        # A vosk thread that has finished its C work needs the GIL back, and the event loop's thread keeps it
        # for up to the switch interval (Python's 5 ms) while it is busy: at ~100 calls those waits, twice per
        # chunk, queued turn ends behind each other (reply p95 0.7-1 s). 0.5 ms held 125 calls (bench phrase).
        sys.setswitchinterval(app.config["GIL_SWITCH_MS"] / 1000)
        gevent.spawn(warm, services)
    else:
        warm(services)
