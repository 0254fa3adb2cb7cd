"""#23.1 (and #23.6) through a real call: the emulated caller speaks, vosk hears, the LLM (a real
OpenAI-compatible server on 127.0.0.1) answers with tool calls, the HTTP tool is called, the call ends by the
model's ``end_call``; a model slower than the agent's ``filler.after_ms`` gets a filler line first."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.chat_double import chat_double
from tests.support.streaming import (
    agents_folder,
    call_args,
    demo_ko,
    get_call,
    run_emulator,
    voice_service,
    wait_for,
    write_script,
)

ORDER = {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]}


def kinds(call: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in call["timeline"] if e["kind"] == kind]


def test_the_model_looks_something_up_then_ends_the_call(tmp_path: Path) -> None:
    answers = [
        {"tools": [("order_status", {"order": "42"})], "delay": 1.2},  # slower than the filler's 300 ms
        "주문이 오늘 발송됩니다.",
        {"tools": [("end_call", {"reason": "done"})], "content": "감사합니다. 안녕히 계세요."},
    ]
    with chat_double(answers) as chat:
        chat.tool_answers["order_status"] = {"body": {"order": "42", "state": "shipped"}}
        tools = {
            "builtin": ["end_call", "transfer"],
            "http": [{"name": "order_status", "description": "Look up an order.", "parameters": ORDER,
                      "url": chat.tool_url("order_status"), "secret_headers": {"Authorization": "CRM_TOKEN_TEST"}}],
        }  # fmt: skip
        agent = demo_ko(
            name="tools-ko", numbers=["918000000123"], dtmf_menu=None, policy="llm", grammar=False, intents=[],
            tools=tools, filler={"after_ms": 300, "lines": ["음, 잠시만요."]},
        )  # fmt: skip
        (tmp_path / "agents").mkdir()
        agents = agents_folder(tmp_path / "agents", agent, shipped=False)
        config = {"LLM_URL": chat.url, "TOOL_HOSTS": "127.0.0.1", "CRM_TOKEN_TEST": "Bearer t0k"}
        with voice_service(tmp_path / "svc", agents, **config) as service:
            steps = [{"listen": "reply"}, {"say": "주문 확인해 주세요"}, {"listen": "reply"}, {"listen": 2},
                     {"say": "고맙습니다"}, {"listen": 4}]  # fmt: skip
            script = write_script(tmp_path, {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 60})
            report = run_emulator(*call_args(service, script, "tools-ko", agents, out=tmp_path / "out"))
            assert report["errors"] == [], report["errors"]
            done = wait_for(lambda: (c := get_call(service, report["call_id"]))["state"] == "ended" and c, timeout=20)
    assert chat.tool_requests and chat.tool_requests[0]["body"] == {"order": "42"}
    assert chat.tool_requests[0]["headers"]["authorization"] == "Bearer t0k"
    assert chat.requests[1]["messages"][-1]["role"] == "tool"
    calls, results = kinds(done, "tool.call"), kinds(done, "tool.result")
    assert [c["name"] for c in calls] == ["order_status", "end_call"]
    assert results[0]["ok"] and "shipped" in results[0]["content"]
    spoken = kinds(done, "spoken")  # every line whose audio all went out, in order, with its kind
    bot, said = [(s["line_kind"], s["text"]) for s in spoken], [s["text"] for s in spoken]
    # The filler first, then the model's reply (after the tool), then its goodbye: nothing cut, nothing silent.
    assert ("filler", "음, 잠시만요.") in bot
    order = [said.index(line) for line in ("음, 잠시만요.", "주문이 오늘 발송됩니다.", "감사합니다. 안녕히 계세요.")]
    assert order == sorted(order) and not kinds(done, "interrupt")
    filler, reply = spoken[order[0]], spoken[order[1]]
    started = {k: datetime.fromisoformat(v["started_at"].replace("Z", "+00:00")).timestamp()  # ISO in the API
               for k, v in (("filler", filler), ("reply", reply))}  # fmt: skip
    gap = started["reply"] - (started["filler"] + filler["ms"] / 1000)
    # started_at is when a line's first audio was sent, up to the link's 200 ms lead before it plays; the
    # playback clock queues the reply after the filler's last frame, so the two never overlap.
    assert -0.25 < gap < 1.0
    assert done["end_reason"] == "agent_hangup"


def test_the_model_transfers_to_the_agents_people_with_the_brief(tmp_path: Path) -> None:
    with chat_double([{"tools": [("transfer", {"summary": "Wants a refund."})]}]) as chat:
        agent = demo_ko(
            name="transfer-ko", numbers=["918000000126"], dtmf_menu=None, policy="llm", grammar=False, intents=[],
            tools={"builtin": ["transfer"]},
        )  # fmt: skip
        (tmp_path / "agents").mkdir()
        agents = agents_folder(tmp_path / "agents", agent, shipped=False)
        with voice_service(tmp_path / "svc", agents, LLM_URL=chat.url) as service:
            steps = [{"listen": "reply"}, {"say": "환불해 주세요"}, {"listen": 8}]
            script = write_script(tmp_path, {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 60})
            report = run_emulator(*call_args(service, script, "transfer-ko", agents, out=tmp_path / "out"))
            assert report["errors"] == [], report["errors"]
            done = wait_for(lambda: (c := get_call(service, report["call_id"]))["state"] == "ended" and c, timeout=20)
    assert [t["function"]["name"] for t in chat.requests[0]["tools"]] == ["transfer"]
    bridge = report["transfers"][0]["action"]  # the same bridge as an intent's: the agent's human numbers
    assert bridge["connect"] == [{"type": "pstn", "number": int(agent["human"]["numbers"][0])}]
    assert kinds(done, "handoff")[0] == {"numbers": agent["human"]["numbers"], "why": "tool"}
    assert [c["name"] for c in kinds(done, "tool.call")] == ["transfer"]
    assert kinds(done, "turn")[0]["intent"] == "transfer" and kinds(done, "turn")[0]["action"] == "transfer"
    brief = kinds(done, "handoff.brief")[0]["context"]  # the brief the person gets, as for any transfer
    assert brief["why"] == "tool" and brief["lines"][1]["speaker"] == "caller"
    assert (brief["summary"], brief["summary_by"]) == ("Wants a refund.", "model")  # the model's, from its call
