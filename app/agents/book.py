"""Agent files: who answers a dialled number, and how.

An agent is a YAML or JSON file in AGENTS_DIR, validated by ``AgentSchema``.
A broken file is reported (file and field) and skipped; it never stops the
service or the other agents.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError, fields, validate, validates_schema

from actions import StrictSchema
from actions.fields import PhoneString, StrictBool, StrictInt, StrictStr
from app.agents.default_lines import fill_default_lines
from app.agents.pacing import FillerSchema, Interruptible, ResumeSchema, line_modes
from app.agents.tools import ToolsSchema, check_tools
from streams.speech.profiles import PROFILES
from streams.turns.noise import FILTERS as NOISE_FILTERS
from streams.turns.noise import unavailable as noise_unavailable

log = logging.getLogger(__name__)


def _noise_available(kind: str) -> None:
    """An agent asking for a noise filter this machine lacks is not loaded: the message says what to install."""
    if problem := noise_unavailable(kind):
        raise ValidationError(problem)


INTENT_ACTIONS = ("none", "transfer", "hangup", "play", "switch_voice")
MENU_ACTIONS = ("bot", "transfer", "hangup", "play", "repeat")


class VoiceSchema(StrictSchema):
    voice = StrictStr(non_empty=True)
    language = StrictStr(non_empty=True)
    rate = StrictInt(minimum=50, maximum=400)


class IntentSchema(StrictSchema):
    name = StrictStr(required=True, non_empty=True)
    phrases = fields.List(StrictStr(non_empty=True), required=True, validate=validate.Length(min=1))
    reply = StrictStr()
    action = fields.String(load_default="none", validate=validate.OneOf(INTENT_ACTIONS))
    file = StrictStr(non_empty=True)
    voice = StrictStr(non_empty=True)
    interruptible = Interruptible(metadata={"description": "false or dtmf: speech cannot cut the reply."})

    @validates_schema
    def _needs(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["action"] == "play" and "file" not in data:
            raise ValidationError("An intent that plays needs a file.", "file")
        if data["action"] == "switch_voice" and "voice" not in data:
            raise ValidationError("An intent that switches voice names the voice.", "voice")
        if data["action"] == "none" and "reply" not in data:
            raise ValidationError("An intent needs a reply, an action, or both.", "reply")


class HumanSchema(StrictSchema):
    numbers = fields.List(PhoneString(), required=True, validate=validate.Length(min=1))
    caller_id = PhoneString()
    ring_type = fields.String(validate=validate.OneOf(("group",)))
    timeout = StrictInt(minimum=1, load_default=40)
    loop = StrictInt(minimum=1, load_default=1)
    duration = StrictInt(minimum=1, load_default=5400)
    handoff_url = StrictStr(
        validate=validate.URL(schemes={"http", "https"}, require_tld=False),
        metadata={"description": "Warm transfer: the brief (summary, intents, last lines) is POSTed here."},
    )
    # Nobody answered (docs/agents.md): the backstop, the offers to ring again, the wait for an answer.
    ring_margin = fields.Float(load_default=10.0, validate=validate.Range(min=0, max=300))
    retry_offers = StrictInt(minimum=0, maximum=5, load_default=1)
    offer_wait = fields.Float(load_default=8.0, validate=validate.Range(min=1, max=60))
    retry_yes = fields.List(StrictStr(non_empty=True), validate=validate.Length(min=1))
    retry_no = fields.List(StrictStr(non_empty=True), validate=validate.Length(min=1))


class StreamOptionsSchema(StrictSchema):
    listen_mode = fields.String(validate=validate.OneOf(("caller", "callee", "both")))
    voice_quality = StrictInt(validate=validate.OneOf((8000, 16000, 32000)))


class TurnSchema(StrictSchema):
    """Turn-taking (docs/agents.md): which VAD hears speech, and what ends a caller's turn."""

    vad = fields.String(load_default="energy", validate=validate.OneOf(("energy", "silero")))
    end = fields.String(load_default="silence", validate=validate.OneOf(("silence", "smart")))
    hangover_ms = StrictInt(minimum=50, maximum=3000, load_default=300)  # end: silence - the pause that ends a turn
    silence_ms = StrictInt(minimum=20, maximum=1000, load_default=150)  # end: smart - the pause before asking
    max_wait_ms = StrictInt(minimum=200, maximum=5000, load_default=1000)  # end: smart - the longest pause
    threshold = fields.Float(load_default=0.5, validate=validate.Range(min=0.05, max=0.95))  # P(complete) to end

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["end"] == "smart" and data["max_wait_ms"] <= data["silence_ms"]:
            raise ValidationError(
                f"max_wait_ms ({data['max_wait_ms']}) must be longer than silence_ms ({data['silence_ms']}): "
                "the model is asked after silence_ms, the turn ends at max_wait_ms at the latest.",
                "max_wait_ms",
            )


class IdleSchema(StrictSchema):
    """Idle callers: after ``after`` s of silence a re-prompt; after ``max_reprompts`` of them, goodbye."""

    after = fields.Float(required=True, validate=validate.Range(min=1, max=120))
    reprompt = StrictStr(non_empty=True)
    max_reprompts = StrictInt(minimum=0, maximum=10, load_default=2)
    goodbye = StrictStr(non_empty=True)


class AnsweringMachineSchema(StrictSchema):
    """Outbound calls: tell a person from a machine before greeting; leave a machine a message, or hang up."""

    action = fields.String(load_default="voicemail", validate=validate.OneOf(("voicemail", "hangup", "continue")))
    voicemail = StrictStr(non_empty=True, metadata={"description": "Said after the beep (default: goodbye)."})
    greeting_ms = StrictInt(minimum=1000, maximum=10000, load_default=2500)


class InterruptionSchema(StrictSchema):
    """Barge-in (seed 002): speech over the bot interrupts once it lasts min_duration s and has min_words."""

    enabled = StrictBool(load_default=True)
    min_words = StrictInt(minimum=0, load_default=0)
    min_duration = fields.Float(load_default=0.1, validate=validate.Range(min=0, max=5))
    resume = fields.Nested(ResumeSchema, metadata={"description": "A false interruption: the cut line goes on."})


class MenuOptionSchema(StrictSchema):
    action = fields.String(required=True, validate=validate.OneOf(MENU_ACTIONS))
    say = StrictStr(non_empty=True)
    file = StrictStr(non_empty=True)


class MenuSchema(StrictSchema):
    prompt_file = StrictStr(required=True, non_empty=True)
    max_digit = StrictInt(minimum=1, maximum=8, load_default=1)
    timeout = StrictInt(minimum=1, load_default=5)
    max_retry = StrictInt(minimum=0, load_default=3)
    options = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[0-9*#]{1,8}$", error="Keys are digits, * or #.")),
        values=fields.Nested(MenuOptionSchema),
        required=True,
        validate=validate.Length(min=1),
    )


class AgentSchema(StrictSchema):
    name = StrictStr(required=True, non_empty=True)
    description = StrictStr()
    numbers = fields.List(PhoneString(), load_default=list)
    language = StrictStr(load_default="en")
    voice = StrictStr(load_default="en-us")
    rate = StrictInt(minimum=50, maximum=400, load_default=160)
    voices = fields.Dict(keys=fields.String(), values=fields.Nested(VoiceSchema), load_default=dict)
    greeting = StrictStr(load_default="")
    greeting_mode = fields.String(load_default="tts", validate=validate.OneOf(("tts", "speak", "play")))
    greeting_file = StrictStr(non_empty=True)
    record = StrictBool(load_default=False)
    stream = fields.Nested(StreamOptionsSchema, load_default=dict)
    turn = fields.Nested(TurnSchema, load_default=lambda: TurnSchema().load({}))
    noise = fields.String(
        load_default="none",
        validate=[validate.OneOf(NOISE_FILTERS), _noise_available],
        metadata={"description": "A noise filter on the caller's audio before the VAD: none or rnnoise (#23.4)."},
    )
    stt_profile = fields.String(
        validate=validate.OneOf(tuple(PROFILES)), metadata={"description": "vosk's speed profile (docs/agents.md)."}
    )
    answering_machine = fields.Nested(AnsweringMachineSchema, metadata={"description": "Outbound calls only."})
    idle = fields.Nested(IdleSchema, metadata={"description": "Re-prompt silent callers, then say goodbye."})
    reprompt = StrictStr(metadata={"description": "What an idle caller hears (default in the agent's language)."})
    interruption = fields.Nested(InterruptionSchema, load_default=lambda: InterruptionSchema().load({}))
    grammar = StrictBool(load_default=True)
    intents = fields.List(fields.Nested(IntentSchema), load_default=list)
    fallback = StrictStr()
    max_misses = StrictInt(minimum=1, load_default=3)
    goodbye = StrictStr()
    hold_message = StrictStr()
    no_answer_message = StrictStr(metadata={"description": "Said when nobody answered a transfer: offer to retry."})
    no_answer_goodbye = StrictStr(metadata={"description": "Said when nobody answered and no retry is left."})
    shutdown_message = StrictStr(
        metadata={"description": "Said to a live caller when the service stops (a deploy, a restart)."}
    )
    on_shutdown = fields.String(
        load_default="hangup",
        validate=validate.OneOf(("hangup", "handoff")),
        metadata={"description": "When the service stops: say shutdown_message and hang up, or hand to a person."},
    )
    human = fields.Nested(HumanSchema)
    call_webhook_url = StrictStr(
        validate=validate.URL(schemes={"http", "https"}, require_tld=False),
        metadata={"description": "call.ended and transfer.* go here instead of CALL_WEBHOOK_URL (#23.2)."},
    )
    no_stt = fields.String(load_default="handoff", validate=validate.OneOf(("handoff", "hangup")))
    max_duration = StrictInt(minimum=10, load_default=1800)
    dtmf_menu = fields.Nested(MenuSchema)
    policy = fields.String(load_default="scripted", validate=validate.OneOf(("scripted", "llm")))
    instructions = StrictStr(metadata={"description": "System prompt for the LLM policy."})
    interruptible = line_modes()
    filler = fields.Nested(FillerSchema, metadata={"description": "Said while a slow policy thinks."})
    tools = fields.Nested(ToolsSchema, metadata={"description": "The LLM's tools: built-ins and HTTP tools."})
    min_confidence = fields.Float(
        validate=validate.Range(min=0, max=1),
        metadata={"description": "Mean word confidence below which a turn is a miss."},
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["greeting_mode"] == "play" and "greeting_file" not in data:
            raise ValidationError("greeting_mode play needs greeting_file.", "greeting_file")
        # An intent that transfers must have someone to ring. Implicit handoffs (no_stt, too many misses)
        # without human.numbers become a polite goodbye and hang-up instead.
        if any(i["action"] == "transfer" for i in data["intents"]) and "human" not in data:
            raise ValidationError("Give human.numbers: an intent hands callers to a person.", "human")
        for intent in data["intents"]:
            if intent["action"] == "switch_voice" and intent["voice"] not in data["voices"]:
                raise ValidationError(
                    f"Intent {intent['name']!r} switches to unknown voice {intent['voice']!r}.", "intents"
                )


@dataclass
class AgentError:
    file: str
    errors: dict[str, Any]


@dataclass
class AgentBook:
    """All agents of a directory, by name, with the files that failed."""

    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[AgentError] = field(default_factory=list)
    default: str = ""

    def for_number(self, dialled: str | None) -> dict[str, Any] | None:
        """The agent serving ``dialled``, else the default agent, else None."""
        number = (dialled or "").lstrip("+")
        for agent in self.agents.values():
            if number and number in agent["numbers"]:
                return agent
        return self.agents.get(self.default)

    def get(self, name: str | None) -> dict[str, Any] | None:
        return self.agents.get(name or "")


def parse_agent(path: Path, tool_hosts: Sequence[str] = ()) -> dict[str, Any]:
    """Read and validate one agent file; ValidationError carries field messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationError({"_file": ["Not UTF-8 text."]}) from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except RecursionError:
        raise ValidationError({"_file": ["Nested too deep."]}) from None
    except (ValueError, yaml.YAMLError) as exc:
        raise ValidationError({"_file": [f"Not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"]}) from None
    if not isinstance(raw, dict):
        raise ValidationError({"_file": ["An agent file holds one mapping (name, greeting, intents…)."]})
    agent = AgentSchema().load(raw)
    check_tools(agent, tool_hosts)
    return fill_default_lines(agent, path.name)


def load_agents(directory: str | Path, default: str, tool_hosts: Sequence[str] = ()) -> AgentBook:
    book = AgentBook(default=default)
    folder = Path(directory)
    if not folder.is_dir():
        log.warning("AGENTS_DIR %s does not exist: no agents loaded", folder)
        return book
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        try:
            agent = parse_agent(path, tool_hosts)
        except ValidationError as exc:
            book.errors.append(AgentError(path.name, exc.messages))  # type: ignore[arg-type]
            log.error("agent file %s is invalid and was skipped: %s", path.name, exc.messages)
            continue
        if agent["name"] in book.agents:
            book.errors.append(AgentError(path.name, {"name": [f"Duplicate agent name {agent['name']!r}."]}))
            continue
        agent["file"] = path.name
        book.agents[agent["name"]] = agent
    if default not in book.agents:
        log.warning("DEFAULT_AGENT %r is not among the loaded agents (%s)", default, ", ".join(book.agents) or "none")
    return book
