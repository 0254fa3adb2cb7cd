"""End reasons and events in words (#24.2, #24.3): one table, complete, documented, used everywhere."""

from __future__ import annotations

import re

from app.dashboard.charts import hour_svg, latency_axis
from app.dashboard.timeline import Lanes, Span, svg
from emulator.summary import summary_lines
from streams.events import TranscriptLine, Turn
from streams.session.briefing import Memory, plain_summary
from streams.words import END_REASONS, EVENT_KINDS, end_reason, event_sentence
from tests.conftest import ROOT

# Where the code names an end reason: call.end("x"), _end_soon, "x", state="ended", reason="x", a goodbye's reason,
# a refused stream's (code, "x", message), the platform's endings.
PRODUCERS = [
    r'\.end\("(\w+)"',
    r'_end_soon, "(\w+)"',
    r'state="(?:ended|failed)", reason="(\w+)"',
    r'_goodbye\("(\w+)"',
    r'return CLOSE_\w+, "(\w+)"',
    r'end\(decision\.reason or "(\w+)"',
]


def produced_end_reasons() -> set[str]:
    found: set[str] = set()
    for package in ("app", "streams"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            for pattern in PRODUCERS:
                found.update(re.findall(pattern, text))
            for table in re.findall(r"\w*ENDINGS = \{([^}]*)\}", text):
                found.update(re.findall(r':\s*"(\w+)"', table))
            for table in re.findall(r"\w*ENDINGS = \(([^)]*)\)", text):
                found.update(re.findall(r'"(\w+)"', table))
    return found


def test_every_end_reason_the_code_produces_has_a_sentence() -> None:
    produced = produced_end_reasons()
    assert {"socket_closed", "no_stt", "missed", "hung_up", "socket_lost", "unknown_to_platform"} <= produced
    assert produced - set(END_REASONS) == set()


def test_the_docs_list_every_end_reason_and_event_kind_with_its_sentence() -> None:
    docs = (ROOT / "docs" / "architecture.md").read_text()
    for code, words in [*END_REASONS.items(), *EVENT_KINDS.items()]:
        assert f"| `{code}` | {words} |" in docs, code


def test_sentences_read_as_words_and_an_unknown_code_is_still_shown() -> None:
    assert end_reason("hung_up") == "the caller hung up"
    assert end_reason("something_new") == "something new" and end_reason(None) == ""
    state = event_sentence("state", {"state": "ended", "from": "live", "reason": "no_stt"})
    assert state == "The call is ended: no speech model for the agent's language, so the caller could not be heard."
    heard = event_sentence("turn", {"n": 1, "text": "네", "intent": "yes", "speech_ms": 800, "miss": False})
    assert heard == "The caller said “네” (meaning yes, 0.8 s)."
    missed = event_sentence("turn", {"n": 2, "text": "", "intent": None, "miss": True, "speech_ms": 1500})
    assert missed == "The caller spoke for 1.5 s: not understood."
    assert event_sentence("stream.writer_failed", {}) == "Sending audio to the platform failed."
    assert event_sentence("brand.new", {"x": 1}) == "Brand: new."
    assert event_sentence("reply", {"latency_ms": "garbage"}) == "The bot answered."  # a bad detail: the kind's words


def test_the_brief_counts_turns_that_were_not_understood() -> None:
    memory = Memory()
    assert plain_summary(memory, "asked").endswith("The caller has not spoken yet.")
    for _ in range(2):
        memory.observe(TranscriptLine(call_id="c", speaker="caller", text=""))
    assert plain_summary(memory, "misses").endswith("The caller spoke twice, not understood.")
    memory.observe(TranscriptLine(call_id="c", speaker="caller", text="상담원"))
    memory.observe(Turn(call_id="c", n=3, text="상담원", confidence=0.9, intent="human"))
    summary = plain_summary(memory, "intent")
    assert 'last said: "상담원"' in summary and "also spoke twice without being understood" in summary


def test_the_emulator_summary_says_the_end_reason_in_words_and_keeps_the_code() -> None:
    report = {"to": "918000000002", "agent": "demo-ko", "duration": 3.0, "call_id": "c1", "turns": [],
              "transfers": [], "end": {"how": "caller_hangup", "why": "script done"}, "heard_wav": None,
              "service": {"end_reason": "no_stt", "turns": [], "timeline": [], "transcript": []},
              "checks": {"ok": True, "passed": [], "failures": []}}  # fmt: skip
    [ended] = [line for line in summary_lines(report) if line.strip().startswith("ended:")]
    assert "no speech model for the agent's language" in ended and "(no_stt)" in ended


def _texts(picture: str) -> list[tuple[float, float, str]]:
    """(x, y, text) of every label in the SVG."""
    return [
        (float(x), float(y), t)
        for x, y, t in re.findall(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', picture)
    ]


def test_timeline_labels_never_overlap_and_marks_are_labelled() -> None:
    data = Lanes(length=20.0)
    data.spans += [Span("caller", 2.0, 2.4, "a", seek=2.0, note="302 ms"), Span("caller", 2.5, 3.0, "b", seek=2.5,
                   note="3174 ms"), Span("caller", 10.0, 11.0, "c", seek=10.0, note="250 ms")]  # fmt: skip
    data.marks += [(lane, 5.0, "a person answered") for lane in ("handoff",)] + [("controls", 5.1, "pause by ops")]
    picture = str(svg(data))
    labels = [t for t in _texts(picture) if t[1] > 20]  # below the time axis
    assert "a person answered" in picture.split("</title>")[-2] or any(t[2] == "a person answered" for t in labels)
    by_row: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in labels:
        by_row.setdefault(y, []).append((x, text))
    for row in by_row.values():
        row.sort()
        for (x1, t1), (x2, _) in zip(row, row[1:], strict=False):
            assert x1 + len(t1) * 11 * 0.6 <= x2, row  # the next label starts after this one ends
    notes = [t for _, _, t in labels if t.endswith(" ms")]
    assert "302 ms" in notes and "3174 ms" not in notes and "250 ms" in notes  # the crowded one stays in its tooltip
    assert any(t == "a person answered" for _, _, t in labels) and any(t == "pause by ops" for _, _, t in labels)


def test_the_hour_charts_latency_axis_ignores_one_outlier_and_uses_the_pages_font() -> None:
    assert latency_axis([300.0] * 60 + [3200.0]) == 500.0  # was 3200: one slow reply squashed every other minute
    assert latency_axis([900.0] * 30 + [1210.0] * 30) == 1300.0 and latency_axis([]) == 500.0
    rows = [{"minute": i * 60, "calls": 0, "live": 0, "p50": None, "p95": None} for i in range(60)]
    rows[10].update(p50=300.0, p95=3200.0)
    picture = hour_svg(rows, 0, latency_axis([300.0] * 60 + [3200.0]))
    assert 'font-family="system-ui' in picture and 'font-size="13"' in picture
    assert "axis to 500 ms" in picture and "p95 3200 ms" in picture  # the outlier sits on the top edge, titled
