"""Property tests: the socket parser, the PCMO schemas and the agent loader fail only in their own way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from actions import ActionValidationError, validate_action, validate_pcmo, validate_pipeline
from actions.messages import validate_message
from app.agents.book import parse_agent
from streams.link.protocol import Audio, Event, Rejected, parse

FAST = settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
)
ACTION_NAMES = st.sampled_from(
    ["stream", "play", "speak", "param", "record", "hangup", "bridge", "input", "play_get_input", "connect", "x"]
)
KEYS = st.sampled_from(
    ["action", "ws_url", "file_url", "file_name", "text", "from", "connect", "number", "type", "timeout", "loop",
     "max_digit", "action_url", "listen_mode", "voice_quality", "params", "endpoints", "data", "format", "duration"]
)  # fmt: skip
# Action-shaped objects reach deeper into the schemas than arbitrary JSON does.
ACTIONS = st.builds(lambda name, rest: {"action": name, **rest}, ACTION_NAMES, st.dictionaries(KEYS, JSON, max_size=5))


@FAST
@given(message=st.binary(max_size=2000) | st.text(max_size=2000) | JSON.map(json.dumps) | st.none())
def test_the_socket_parser_never_raises(message: Any) -> None:
    assert isinstance(parse(message, 1000), (Audio, Event, Rejected))


@FAST
@given(depth=st.integers(1, 200_000), opener=st.sampled_from(["[", '{"a":']))
def test_the_socket_parser_survives_any_nesting(depth: int, opener: str) -> None:
    assert isinstance(parse(opener * depth, 10**7), (Audio, Event, Rejected))


def only_action_errors(validate: Any, value: Any) -> None:
    try:
        validate(value)
    except ActionValidationError:
        pass


@FAST
@given(value=JSON | ACTIONS | st.lists(ACTIONS | JSON, max_size=4))
def test_pcmo_schemas_raise_nothing_but_action_validation_errors(value: Any) -> None:
    for validate in (validate_action, validate_pcmo, validate_pipeline, validate_message):
        only_action_errors(validate, value)


AGENT_KEYS = st.sampled_from(
    ["name", "numbers", "greeting", "language", "voice", "intents", "policy", "human", "dtmf_menu", "max_duration",
     "stream", "fallback", "goodbye", "llm", "examples", "say", "action"]
)  # fmt: skip
AGENTS = st.dictionaries(AGENT_KEYS, JSON | st.dictionaries(AGENT_KEYS, JSON, max_size=4), max_size=8)


def only_validation_errors(path: Path) -> None:
    try:
        parse_agent(path)
    except ValidationError:
        pass


@FAST
@given(agent=AGENTS | JSON)
def test_the_agent_loader_raises_only_validation_errors_for_any_structure(tmp_path_factory, agent: Any) -> None:
    folder = tmp_path_factory.mktemp("agents")
    (folder / "a.json").write_text(json.dumps(agent))
    (folder / "a.yaml").write_text(yaml.safe_dump(agent))
    only_validation_errors(folder / "a.json")
    only_validation_errors(folder / "a.yaml")


@FAST
@given(raw=st.binary(max_size=500) | st.text(max_size=500).map(str.encode))
def test_the_agent_loader_raises_only_validation_errors_for_any_bytes(tmp_path_factory, raw: bytes) -> None:
    folder = tmp_path_factory.mktemp("agents")
    for name in ("a.json", "a.yaml"):
        (folder / name).write_bytes(raw)
        only_validation_errors(folder / name)


def test_an_agent_file_that_is_not_utf8_or_nests_too_deep_is_a_validation_error(tmp_path) -> None:
    for name, raw in (
        ("a.yaml", b"\x80name: x"),
        ("b.json", b"\xff{}"),
        ("c.yaml", b"[" * 100_000),
        ("d.json", b"[" * 100_000),
    ):
        (tmp_path / name).write_bytes(raw)
        try:
            parse_agent(tmp_path / name)
        except ValidationError as exc:
            assert "_file" in exc.messages
        else:
            raise AssertionError(f"{name} was accepted")
