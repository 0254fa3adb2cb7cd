"""A call's timeline as a picture: lanes for caller speech, bot speech, controls and the handoff.

Pure: stored timeline entries in, lane data and an SVG out. Time 0 is the
moment the stream opened (the ``connecting`` state), which is also time 0 of
the call's recording, so a turn's start is where the player should jump.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from streams.words import end_reason, event_kind

LANES = ("caller", "bot", "controls", "handoff")
COLORS = {"caller": "#2563eb", "wait": "#bfdbfe", "bot": "#059669", "cut": "#b45309", "controls": "#7c3aed",
          "handoff": "#dc2626"}  # fmt: skip
MARKS = {"control": "controls", "idle.reprompt": "controls", "idle.goodbye": "controls", "answered": "controls",
         "handoff": "handoff", "handoff.brief": "handoff", "handoff.failed": "handoff",
         "handoff.answered": "handoff", "handoff.unanswered": "handoff", "handoff.retry": "handoff",
         "handoff.declined": "handoff", "turn.unanswered": "controls", "tts.failed": "controls",
         "stream.writer_failed": "controls"}  # fmt: skip


@dataclass
class Span:
    lane: str
    start: float  # seconds from the stream's opening
    end: float
    label: str
    cut: bool = False
    seek: float | None = None  # where the recording player jumps when it is clicked
    note: str = ""  # e.g. a turn's reply latency
    wait: bool = False  # the caller's pause before the turn was ended (drawn light)


@dataclass
class Lanes:
    spans: list[Span] = field(default_factory=list)
    marks: list[tuple[str, float, str]] = field(default_factory=list)  # (lane, seconds, label)
    length: float = 1.0


def _origin(timeline: list[dict[str, Any]]) -> float | None:
    for entry in timeline:
        if entry["kind"] == "state" and entry["detail"].get("state") == "connecting":
            return float(entry["at"])
    return None


def _cuts(timeline: list[dict[str, Any]]) -> dict[int, float]:
    """Utterance id -> ms heard, for utterances a break or barge-in cut short."""
    heard: dict[int, float] = {}
    for entry in timeline:
        if entry["kind"] == "interrupt":
            for cut in entry["detail"].get("cuts", []):
                if "utterance" in cut:
                    heard[cut["utterance"]] = float(cut.get("heard_ms", 0))
    return heard


def lanes(timeline: list[dict[str, Any]]) -> Lanes:
    """Spans and marks from a call's stored timeline (entries in time order)."""
    origin = _origin(timeline)
    out = Lanes()
    if origin is None:
        return out
    cuts = _cuts(timeline)
    latency = {e["detail"].get("n"): e["detail"].get("latency_ms") for e in timeline if e["kind"] == "reply"}
    for entry in timeline:
        detail, at = entry["detail"], float(entry["at"]) - origin
        if entry["kind"] == "turn":
            end = float(detail["ended_at"]) - origin if detail.get("ended_at") else at - 0.3
            start = max(0.0, end - float(detail.get("speech_ms", 0)) / 1000)
            ms = latency.get(detail.get("n"))
            said = detail.get("text") or f"(not understood, {float(detail.get('speech_ms') or 0) / 1000:.1f} s)"
            label = f"{said} → {detail.get('intent') or 'not understood'}"
            label += f" · {ended(detail)}" if "ended_by" in detail else ""
            note = f"{ms:.0f} ms" if isinstance(ms, (int, float)) else ""
            out.spans.append(Span("caller", start, end, label, seek=start, note=note))
            if detail.get("waited_ms"):
                waited = float(detail["waited_ms"]) / 1000
                out.spans.append(Span("caller", end, end + waited, f"pause: {ended(detail)}", wait=True))
        elif entry["kind"] == "spoken":
            start = float(detail["started_at"]) - origin
            heard = cuts.get(detail.get("utterance"))
            length = (heard if heard is not None else float(detail.get("ms", 0))) / 1000
            out.spans.append(Span("bot", start, start + length, detail.get("text", ""), cut=heard is not None))
        elif entry["kind"] == "interrupt":  # cut before all of it went out: no "spoken" line, the cut says it all
            spoken = {e["detail"].get("utterance") for e in timeline if e["kind"] == "spoken"}
            for cut in detail.get("cuts", []):
                if "utterance" in cut and cut["utterance"] not in spoken:
                    start = max(0.0, at - float(cut.get("heard_ms", 0)) / 1000)
                    out.spans.append(Span("bot", start, at, cut.get("text", ""), cut=True))
        elif entry["kind"] in MARKS:
            out.marks.append((MARKS[entry["kind"]], at, _mark_label(entry)))
        elif entry["kind"] == "state" and detail.get("state") in ("handed_off", "ended"):
            said = "transferred" if detail["state"] == "handed_off" else f"ended: {end_reason(detail.get('reason'))}"
            out.marks.append(("handoff" if detail["state"] == "handed_off" else "controls", at, said.rstrip(": ")))
    ends = [s.end for s in out.spans] + [m[1] for m in out.marks]
    out.length = max([1.0, *ends])
    return out


def ended(detail: dict[str, Any]) -> str:
    """What ended a turn, in words: the detector, the turn model's verdicts, the pause it waited."""
    by = detail.get("ended_by") or "silence"
    checks = detail.get("completeness") or []
    checks = [p for p in (checks if isinstance(checks, list) else [checks]) if isinstance(p, (int, float))]
    said = f", model P(complete) {' then '.join(f'{p:.2f}' for p in checks)}" if checks else ""
    what = {"smart": "the turn model", "max_wait": "the longest wait", "silence": "silence"}.get(by, by)
    return f"ended by {what} after a {float(detail.get('waited_ms') or 0):.0f} ms pause{said}"


def _mark_label(entry: dict[str, Any]) -> str:
    detail = entry["detail"]
    if entry["kind"] == "control":
        return f"{detail.get('action')} by {detail.get('by')}"
    if entry["kind"] == "answered":
        return f"answered by {detail.get('by')}"
    if entry["kind"] == "handoff.brief":
        return str((detail.get("context") or {}).get("summary", "brief"))
    if entry["kind"] == "handoff.unanswered":
        return f"nobody answered ({'no word from the platform' if detail.get('by') == 'timer' else 'platform'})"
    if entry["kind"] == "turn.unanswered":
        return f"turn {detail.get('n')}: no reply could be played; call ended"
    if entry["kind"] == "handoff.answered":
        return "a person answered"
    if entry["kind"] == "handoff.retry":
        return "caller asked to try again"
    if entry["kind"] == "handoff.declined":
        return f"no retry ({detail.get('why')})"
    if entry["kind"] == "handoff":
        return "transfer started"
    return event_kind(entry["kind"])


def svg(data: Lanes, width: int = 960) -> Markup:
    """An inline SVG (no scripts, no styles: CSP-safe); clickable spans carry ``data-seek`` seconds."""
    left, row, top = 80, 30, 18
    scale = (width - left - 10) / data.length
    height = top + row * len(LANES) + 6
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="call timeline" class="lanes">']  # fmt: skip
    for i, lane in enumerate(LANES):
        y = top + i * row
        parts.append(f'<text x="4" y="{y + 19}" font-size="13" fill="#334155">{lane}</text>')
        parts.append(f'<line x1="{left}" y1="{y + 28}" x2="{width - 10}" y2="{y + 28}" stroke="#e2e8f0"/>')
    for second in range(0, int(data.length) + 1, max(1, int(data.length / 10) or 1)):
        x = left + second * scale
        if x <= width - 24:  # a label past the right edge would be clipped
            parts.append(f'<text x="{x:.1f}" y="12" font-size="10" fill="#64748b">{second}s</text>')
    free: dict[str, float] = {}  # lane -> the first x a new label may start at (labels never overlap)
    drawn = [_span(span, left, top, row, scale, free, width) for span in data.spans]
    parts += [shape for shape, _ in drawn] + [note for _, note in drawn]  # notes on top (a pause span follows a turn)
    labels = []  # drawn after every tick, so no tick covers a label
    for lane, at, label in data.marks:
        x, y = left + at * scale, top + LANES.index(lane) * row
        parts.append(f'<g><title>{escape(label)}</title><rect x="{x - 2:.1f}" y="{y + 4}" width="4" height="22" '
                     f'fill="{COLORS[lane]}"/></g>')  # fmt: skip
        labels.append(_label(lane, x + 4, y + 19, _short(label), free, width, before=x - 4))
    parts += labels
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(label: str, most: int = 28) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


def _label(
    lane: str, x: float, y: float, text: str, free: dict[str, float], width: int, size: int = 11, before: float = 0
) -> str:
    """A text label at ``x`` if it fits there without covering the lane's previous label (or, given
    ``before``, ending there when the right edge is too near), else nothing (the tooltip still says it)."""
    room = len(text) * size * 0.6  # a generous estimate of the text's width
    if text and x + room > width - 4 and before:
        x = before - room  # at the right edge: to the left of the mark instead
    if not text or x < free.get(lane, 0.0) or x + room > width - 4:
        return ""
    free[lane] = x + room + 6
    return f'<text x="{x:.1f}" y="{y}" font-size="{size}" fill="#0f172a">{escape(text)}</text>'


def _span(
    span: Span, left: int, top: int, row: int, scale: float, free: dict[str, float], width: int
) -> tuple[str, str]:
    """The span's shape, and its note (drawn after every shape, only where it overlaps no other label)."""
    x, y = left + span.start * scale, top + LANES.index(span.lane) * row
    w = max(3.0, (span.end - span.start) * scale)
    color = COLORS["cut"] if span.cut else COLORS["wait"] if span.wait else COLORS[span.lane]
    seek = f' data-seek="{span.seek:.2f}" class="seekable"' if span.seek is not None else ""
    title = escape(
        span.label + (" (cut: heard up to here)" if span.cut else "") + (f" · reply {span.note}" if span.note else "")
    )
    note = _label(span.lane, x + w + 3, y + 19, span.note, free, width)
    return (f'<g{seek}><title>{title}</title><rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="22" rx="3" '
            f'fill="{color}"/></g>'), note  # fmt: skip


def readable(detail: Any) -> str:
    """A timeline detail as text people read: ``key: value``, nested values in brackets, times of day for
    the ``*_at`` epoch fields, non-ASCII kept as it is (never \\uXXXX)."""
    if isinstance(detail, dict):
        return ", ".join(f"{key}: {_value(key, value)}" for key, value in detail.items())
    return _value("", detail)


def _value(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "(" + readable(value) + ")"
    if isinstance(value, list):
        return "[" + "; ".join(_value(key, item) for item in value) + "]"
    if key.endswith("_at") and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 1e9:
        try:
            return datetime.fromtimestamp(value, UTC).strftime("%H:%M:%S.%f")[:-3]
        except (OverflowError, OSError, ValueError):
            pass
    return json.dumps(value, ensure_ascii=False, default=str)
