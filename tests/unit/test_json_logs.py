"""LOG_FORMAT=json (#22.5): one JSON object a line, call id, node and agent as fields, redaction unchanged."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.config import ConfigError, load_config
from app.logs import JsonFormatter, RedactQuery, formatter, install_escaping, set_agent_lookup


@pytest.fixture
def lines():
    install_escaping()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("node-7"))
    handler.addFilter(RedactQuery())
    logger = logging.getLogger("tests.json_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    set_agent_lookup(lambda call_id: {"c0ffee1234": "demo-ko"}.get(call_id))
    try:
        yield logger, lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        set_agent_lookup(None)
        logger.removeHandler(handler)


def test_a_call_line_carries_call_id_node_and_agent(lines) -> None:
    logger, read = lines
    logger.info("call %s: stream open at %d Hz", "c0ffee1234", 8000)
    logger.warning("no call here")
    first, second = read()
    assert first["call_id"] == "c0ffee1234" and first["agent"] == "demo-ko" and first["node"] == "node-7"
    assert first["message"] == "call c0ffee1234: stream open at 8000 Hz" and first["level"] == "INFO"
    assert first["logger"] == "tests.json_logs" and first["time"].endswith("Z")
    assert second["call_id"] is None and second["agent"] is None


def test_redaction_and_escaping_are_unchanged(lines) -> None:
    logger, read = lines
    logger.info("GET /stream/x?exp=1&sig=sig-secret HTTP/1.1")
    logger.info("caller said %s", "hi\n2026-01-01 INFO forged line")
    try:
        raise ValueError("boom\nline two")
    except ValueError:
        logger.exception("call %s: failed", "c0ffee1234")
    redacted, escaped, failed = read()  # three records, three lines: nothing forged a line of its own
    assert "sig-secret" not in redacted["message"] and "?[redacted]" in redacted["message"]
    assert escaped["message"] == "caller said hi\\n2026-01-01 INFO forged line"
    assert "ValueError: boom\nline two" in failed["exception"]  # whole, inside its one line


def test_log_format_is_text_unless_json() -> None:
    assert load_config({})["LOG_FORMAT"] == "text" and load_config({"LOG_FORMAT": "json"})["LOG_FORMAT"] == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_config({"LOG_FORMAT": "xml"})
    assert not isinstance(formatter("text"), JsonFormatter) and isinstance(formatter("json"), JsonFormatter)
