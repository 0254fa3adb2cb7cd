"""The dozen lines a person reads after `python -m emulator call`: turns, transfers, the end, the verdict."""

from __future__ import annotations

from typing import Any

from emulator.service_record import replies_by_turn
from streams.words import end_reason

END_SAYS = {
    "caller_hangup": "the caller hung up",
    "bot_hangup": "the bot hung up",
    "closed_by_service": "the service closed the stream",
    "stream_stopped": "the service stopped the stream",
    "max_seconds": "the script ran out of time",
    "pcmo_done": "the PCMO ended without a stream",
    "error": "an error",
}


def summary_lines(report: dict[str, Any], report_path: str | None = None) -> list[str]:
    agent = f" (agent {report['agent']})" if report.get("agent") else ""
    lines = [f"call to {report['to']}{agent}: {report['duration']:.1f} s, service call {report['call_id'] or '-'}"]
    record = report.get("service")
    greeting, replies = replies_by_turn(record) if record and "error" not in record else ([], [])
    heard = (record or {}).get("turns") or []
    if greeting:
        lines.append(f"  bot      {_clip(' '.join(greeting))}")
    for i, turn in enumerate(report["turns"]):
        lines.append(f"  turn {i + 1}   {_turn(turn, heard[i] if i < len(heard) else None)}")
        if i < len(replies) and replies[i]:
            lines.append(f"           bot: {_clip(' '.join(replies[i]))}")
    if not report["turns"]:
        lines.append("  the caller did not speak")
    lines += [
        f"  transfer at {t['t']:.1f} s to {_numbers(t['action'])} (via {t['via']})"
        + (f": {t['outcome']}" if t.get("outcome") else "")
        for t in report["transfers"]
    ]
    lines.append(f"  ended: {_ended(report)}")
    if record and "error" in record:
        lines.append(f"  (the service's record: {record['error']})")
    elif record is None and report["call_id"]:
        lines.append("  (pass --api-key, or set API_KEY, to see what the service heard and the bot said)")
    lines += _verdict(report["checks"])
    if report_path:
        heard = f", heard audio: {report['heard_wav']}" if report["heard_wav"] else ""
        lines.append(f"report: {report_path}{heard}")
    return lines


def _turn(turn: dict[str, Any], heard: dict[str, Any] | None) -> str:
    said = f"said {turn['utterance']!r}"
    if heard is not None:
        intent = "not understood" if heard.get("miss") else f"intent {heard.get('intent')}"
        said += f", heard {heard['text']!r} ({intent})" if heard.get("text") else ", not understood"
    reply = "no reply" if turn.get("latency_ms") is None else f"reply after {turn['latency_ms']:.0f} ms"
    return f"{said}, {reply}"


def _numbers(action: dict[str, Any]) -> str:
    numbers = [str(c.get("number")) for c in action.get("connect") or [] if isinstance(c, dict)]
    return ", ".join(numbers) or "?"


def _ended(report: dict[str, Any]) -> str:
    end = report.get("end") or {"how": "?", "why": ""}
    text = f"{END_SAYS.get(end['how'], end['how'])} ({end['why']})"
    record = report.get("service") or {}
    if record.get("end_reason"):
        text += f"; the service says: {end_reason(record['end_reason'])} ({record['end_reason']})"
    return text


def _verdict(checks: dict[str, Any]) -> list[str]:
    if checks["ok"]:
        return ["OK: " + ("; ".join(checks["passed"]) or "no expectations, no errors")]
    return [f"FAILED: {failure}" for failure in checks["failures"]]


def _clip(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
