"""#23.1 The LLM's tools: tool calls against a real OpenAI-compatible server on 127.0.0.1, HTTP tools against
real endpoints there, and the agent file's ``tools`` validated at load with the field named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from marshmallow import ValidationError

from app.agents.book import parse_agent
from app.live.wiring import tool_box
from streams.voice.llm import LLMPolicy
from streams.voice.tools import HttpTool, ToolBox, parse_tool_calls
from tests.support.chat_double import ChatDouble, chat_double

AGENT = {"name": "t", "language": "en", "policy": "llm", "fallback": "Sorry?", "goodbye": "Bye now."}
ORDER = {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]}


def policy(chat: ChatDouble, method: str = "POST", timeout: float = 2.0, **tools: Any) -> tuple[LLMPolicy, list]:
    spec = {"name": "order_status", "description": "Look up an order.", "parameters": ORDER,
            "url": chat.tool_url("order_status"), "method": method, "timeout": timeout,
            "secret_headers": {"Authorization": "CRM_TOKEN"}}  # fmt: skip
    box = ToolBox(
        ["end_call", "transfer", "hold"], [HttpTool.of(spec, {"CRM_TOKEN": "Bearer s3cret"}.get)], ["127.0.0.1"]
    )
    agent = {**AGENT, "tools": tools}
    made = LLMPolicy(agent, url=chat.url, model="m", timeout=3, tools=box)
    seen: list[tuple[str, Any]] = []
    made.on_note = lambda what, info: seen.append((what, info))
    made.on_wait = lambda text: seen.append(("said", text))
    return made, seen


def test_an_http_tool_is_called_and_its_result_goes_back_to_the_model() -> None:
    answers = [{"tools": [("order_status", {"order": "42"})]}, "Your order 42 ships today."]
    with chat_double(answers) as chat:
        chat.tool_answers["order_status"] = {"body": {"order": "42", "state": "shipped"}}
        made, seen = policy(chat)
        decision = made.on_turn("where is my order", 1.0)
    assert decision.reply == "Your order 42 ships today." and decision.action is None
    offered = [t["function"]["name"] for t in chat.requests[0]["tools"]]
    assert offered == ["end_call", "transfer", "hold", "order_status"]
    sent = chat.tool_requests[0]
    assert sent["body"] == {"order": "42"} and sent["headers"]["authorization"] == "Bearer s3cret"
    second = chat.requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == "order_status"
    assert second[-1]["role"] == "tool" and second[-1]["tool_call_id"] == second[-2]["tool_calls"][0]["id"]
    assert "shipped" in second[-1]["content"]
    assert [what for what, _ in seen] == ["tool.call", "tool.result"]
    assert seen[1][1]["ok"] and seen[1][1]["status"] == 200 and "s3cret" not in str(seen)


def test_later_turns_know_what_a_tool_looked_up_and_history_keeps_whole_exchanges() -> None:
    answers = [{"tools": [("order_status", {"order": "42"})]}, "It ships today.", "Yes, order 42.", "Bye."]
    with chat_double(answers) as chat:
        chat.tool_answers["order_status"] = {"body": {"order": "42", "state": "shipped"}}
        made, _ = policy(chat)
        made.on_turn("where is my order", 1.0)
        made.on_turn("the same order?", 1.0)
        third = chat.requests[2]["messages"]  # the second turn's request: the lookup is still there
        made.max_history = 1
        made.on_turn("thanks", 1.0)
        fourth = chat.requests[3]["messages"]  # one exchange kept: the first (with its tool) is gone whole
    roles = [m["role"] for m in third]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"], roles
    assert third[2]["tool_calls"][0]["id"] == third[3]["tool_call_id"] and "shipped" in third[3]["content"]
    assert [m["role"] for m in fourth] == ["system", "user", "assistant", "user"]
    assert fourth[1]["content"] == "the same order?"  # never a tool message without the call that asked for it


def test_a_get_tool_sends_its_arguments_as_the_query() -> None:
    with chat_double([{"tools": [("order_status", {"order": "7"})]}, "Done."]) as chat:
        made, _ = policy(chat, method="GET")
        assert made.on_turn("order seven", 1.0).reply == "Done."
    assert chat.tool_requests[0]["method"] == "GET" and chat.tool_requests[0]["query"] == {"order": "7"}


@pytest.mark.parametrize(
    ("tool", "action", "reply"),
    [("end_call", "hangup", "Goodbye, take care."), ("transfer", "transfer", None), ("hold", "play", "Hold on.")],
)
def test_built_ins_decide_the_turn(tool: str, action: str, reply: str | None) -> None:
    with chat_double([{"tools": [(tool, {})], "content": reply}]) as chat:
        made, seen = policy(chat)
        decision = made.on_turn("whatever", 1.0)
    assert decision.action == action and decision.intent == tool
    assert decision.reply == (None if tool == "transfer" else reply)
    assert decision.file == ("hold.wav" if tool == "hold" else None)
    assert decision.reason == ("tool" if tool == "transfer" else None)
    assert seen == [("tool.call", {"id": "call_1_0", "name": tool, "arguments": "{}", "round": 1})]


def test_end_call_without_words_says_the_goodbye() -> None:
    with chat_double([{"tools": [("end_call", {})]}]) as chat:
        made, _ = policy(chat)
        assert made.on_turn("bye", 1.0).reply == "Bye now."


def test_tool_rounds_are_bounded_and_end_in_the_fallback_line() -> None:
    with chat_double([{"tools": [("order_status", {"order": "1"})]}]) as chat:  # the model never stops asking
        made, seen = policy(chat, max_rounds=2, fallback="I could not look that up.")
        decision = made.on_turn("where is it", 1.0)
    assert decision.reply == "I could not look that up." and len(chat.tool_requests) == 2
    assert len(chat.requests) == 3 and seen[-1][0] == "tool.rounds"


def test_a_failing_tool_is_an_error_the_model_answers_from() -> None:
    with chat_double([{"tools": [("order_status", {"order": "1"})]}, "The system is down, sorry."]) as chat:
        chat.tool_answers["order_status"] = {"status": 500, "body": {"trace": "internal details"}}
        made, seen = policy(chat)
        assert made.on_turn("where is it", 1.0).reply == "The system is down, sorry."
    result = chat.requests[1]["messages"][-1]["content"]
    assert "HTTP 500" in result and "internal details" not in result
    assert seen[1][1]["ok"] is False and seen[1][1]["status"] == 500


def test_a_slow_tool_gets_the_waiting_line_then_times_out() -> None:
    with chat_double([{"tools": [("order_status", {"order": "1"})]}, "I could not reach it."]) as chat:
        chat.tool_answers["order_status"] = {"delay": 1.5}
        made, seen = policy(chat, timeout=0.8, wait_ms=200, waiting="Just a second.")
        assert made.on_turn("where is it", 1.0).reply == "I could not reach it."
    assert ("said", "Just a second.") in seen
    assert "timed out" in chat.requests[1]["messages"][-1]["content"]


def test_the_model_failing_after_a_tool_is_the_fallback_not_silence() -> None:
    with chat_double([{"tools": [("order_status", {"order": "1"})]}, ""]) as chat:  # then an empty answer
        made, _ = policy(chat)
        decision = made.on_turn("where is it", 1.0)
    assert decision.reply == "Sorry, I could not do that just now."


def test_a_tool_off_the_allow_list_is_never_offered_nor_called() -> None:
    spec = {"name": "x", "description": "d", "url": "http://evil.example/x"}
    box = ToolBox([], [HttpTool.of(spec, lambda name: "")], ["127.0.0.1"])
    assert not box and box.refused == ["x"] and box.specs() == []


def test_tool_calls_are_parsed_leniently() -> None:
    message = {"tool_calls": [
        {"id": "a", "function": {"name": "f", "arguments": '{"k": 1}'}},
        {"id": "b", "function": {"name": "g", "arguments": "not json"}},
        {"id": "c", "function": {"arguments": "{}"}},
        "junk",
    ]}  # fmt: skip
    calls = parse_tool_calls(message)
    assert [(c.name, c.arguments) for c in calls] == [("f", {"k": 1}), ("g", None)]


def test_wiring_reads_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_TOKEN_T", "tok")
    spec = {"name": "x", "description": "d", "url": "http://127.0.0.1:1/x", "secret_headers": {"X-Key": "CRM_TOKEN_T"}}
    box = tool_box({"name": "t", "tools": {"builtin": ["hold"], "http": [spec]}}, ["127.0.0.1"])
    assert box.http["x"].headers == {"X-Key": "tok"} and "tok" not in repr(box.http["x"])


# -- the agent file ------------------------------------------------------------------------------
def load(tmp_path: Path, tools: Any, hosts: tuple[str, ...] = ("crm.example",), **agent: Any) -> dict[str, Any]:
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({**AGENT, "tools": tools, **agent}))
    return parse_agent(path, hosts)


def test_a_good_tools_block_loads(tmp_path: Path) -> None:
    http = [{"name": "order_status", "description": "d", "parameters": ORDER, "url": "https://crm.example/o",
             "secret_headers": {"Authorization": "CRM_TOKEN"}}]  # fmt: skip
    agent = load(tmp_path, {"builtin": ["end_call", "hold"], "http": http})
    tools = agent["tools"]
    assert tools["max_rounds"] == 3 and tools["http"][0]["method"] == "POST" and tools["http"][0]["timeout"] == 3.0


@pytest.mark.parametrize(
    ("tools", "agent", "where"),
    [
        ({"builtin": ["fly"]}, {}, ("tools", "builtin", 0)),
        ({"builtin": ["hold"]}, {"policy": "scripted"}, ("tools",)),
        ({"builtin": ["transfer"]}, {}, ("tools", "builtin")),
        ({"http": [{"name": "x", "description": "d", "url": "https://crm.example/x", "headers": {"A": "b"}}]}, {},
         ("tools", "http", 0, "headers")),
        ({"http": [{"name": "x", "description": "d", "url": "https://other.example/x"}]}, {},
         ("tools", "http", 0, "url")),
        ({"http": [{"name": "x", "description": "d", "url": "ftp://crm.example/x"}]}, {}, ("tools", "http", 0, "url")),
        ({"http": [{"name": "x", "description": "d", "url": "https://crm.example/x", "parameters": {"type": "array"}}]},
         {}, ("tools", "http", 0, "parameters")),
        ({"http": [{"name": "end_call", "description": "d", "url": "https://crm.example/x"}]}, {},
         ("tools", "http", 0, "name")),
        ({"http": [{"name": "x", "description": "d", "url": "https://crm.example/x",
                    "secret_headers": {"Authorization": "Bearer abc"}}]}, {}, ("tools", "http", 0, "secret_headers")),
        ({"max_rounds": 0}, {}, ("tools", "max_rounds")),
    ],
)  # fmt: skip
def test_bad_tools_name_the_field(tmp_path: Path, tools: Any, agent: dict[str, Any], where: tuple) -> None:
    with pytest.raises(ValidationError) as caught:
        load(tmp_path, tools, **agent)
    messages: Any = caught.value.messages
    for key in where:
        assert key in messages, (where, caught.value.messages)
        messages = messages[key]


def test_the_models_words_beside_a_tool_call_are_said_while_it_runs() -> None:
    answers = [{"tools": [("order_status", {"order": "1"})], "content": "Let me look."}, "It shipped."]
    with chat_double(answers) as chat:
        made, seen = policy(chat)
        assert made.on_turn("where is it", 1.0).reply == "It shipped."
    assert seen[0] == ("said", "Let me look.")
