"""Did the call go as the caller script expected? The ``expect:`` section, and the one rule without it.

Without ``expect:`` a call fails when it errored, when the caller spoke and
the bot never replied to any of it (the commonest first-hour problem: no speech
model for the agent's language, or the wrong agent answered), or, when the
service's record is at hand (--api-key), when another agent than --agent's
answered. ``min_turns: 0`` turns the reply rule off for scripts that expect silence.
"""

from __future__ import annotations

from typing import Any

from emulator.service_record import bot_lines

NO_REPLY_HINT = (
    "is a speech model for the agent's language installed, and did the right agent answer? see docs/emulator.md"
)


def check(report: dict[str, Any], expect: dict[str, Any]) -> dict[str, Any]:
    """``{"ok", "failures", "passed"}``: each a sentence a person can act on."""
    failures = [f"the call failed: {error}" for error in report["errors"]]
    passed: list[str] = []
    for ok, sentence in _replies(report, expect) + _latency(report, expect) + _transfer(report, expect):
        (passed if ok else failures).append(sentence)
    for ok, sentence in _end(report, expect) + _says(report, expect) + _agent(report):
        (passed if ok else failures).append(sentence)
    return {"ok": not failures, "failures": failures, "passed": passed}


def _replies(report: dict[str, Any], expect: dict[str, Any]) -> list[tuple[bool, str]]:
    spoken = len(report["turns"])
    replied = sum(1 for t in report["turns"] if t.get("reply_at") is not None)
    if "min_turns" not in expect:
        if spoken and not replied:
            return [(False, f"the bot never replied to the caller's speech ({spoken} utterances); {NO_REPLY_HINT}")]
        return [(True, f"{replied} of {spoken} utterances got a reply")] if spoken else []
    wanted = int(expect["min_turns"])
    sentence = f"{replied} of {spoken} utterances got a reply (expected at least {wanted})"
    if replied < wanted and spoken and not replied:
        sentence += f"; {NO_REPLY_HINT}"
    return [(replied >= wanted, sentence)]


def _latency(report: dict[str, Any], expect: dict[str, Any]) -> list[tuple[bool, str]]:
    if "max_latency_ms" not in expect:
        return []
    limit = float(expect["max_latency_ms"])
    slow = [ms for ms in report["reply_latency_ms"] if ms > limit]
    if slow:
        return [(False, f"{len(slow)} replies were slower than {limit:g} ms (slowest {max(slow):g} ms)")]
    return [(True, f"every reply came within {limit:g} ms")]


def _transfer(report: dict[str, Any], expect: dict[str, Any]) -> list[tuple[bool, str]]:
    if "transfer" not in expect:
        return []
    happened = bool(report["transfers"])
    wanted = bool(expect["transfer"])
    said = "a transfer happened" if happened else "no transfer happened"
    return [(happened == wanted, f"{said} (expected {'one' if wanted else 'none'})")]


def _end(report: dict[str, Any], expect: dict[str, Any]) -> list[tuple[bool, str]]:
    if "end" not in expect:
        return []
    allowed = [expect["end"]] if isinstance(expect["end"], str) else list(expect["end"])
    how = (report.get("end") or {}).get("how")
    return [(how in allowed, f"the call ended by {how} (expected {' or '.join(allowed)})")]


def _says(report: dict[str, Any], expect: dict[str, Any]) -> list[tuple[bool, str]]:
    phrases = [str(p) for p in expect.get("says") or []]
    if not phrases:
        return []
    record = report.get("service")
    if record is None:
        return [(False, "expect.says needs what the bot said: pass --api-key (or set API_KEY) to read the service")]
    if "error" in record:
        return [(False, f"expect.says: could not read the service's record: {record['error']}")]
    said = " ".join(bot_lines(record)).casefold()
    found = [(p, p.casefold() in said) for p in phrases]
    return [(ok, f"the bot {'said' if ok else 'never said'} {p!r}") for p, ok in found]


def _agent(report: dict[str, Any]) -> list[tuple[bool, str]]:
    """With the service's record, the agent that answered must be the one dialled (--agent)."""
    record = report.get("service") or {}
    wanted, answered = report.get("agent"), record.get("agent")
    if not wanted or "agent" not in record:
        return []
    if answered == wanted:
        return [(True, f"agent {wanted} answered")]
    return [
        (
            False,
            f"agent {answered!r} answered, not {wanted!r}: do the service and the emulator read the same "
            "agent files (AGENTS_DIR), and was the service restarted after the agent file changed?",
        )
    ]
