"""Words on the dashboard's pages: backticked commands as code, end reasons and events as sentences.

The sentences themselves are one table (``streams/words.py``), shared with the emulator's summary.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from streams import words

TICKED = re.compile(r"`([^`]+)`")


def code_spans(text: str) -> Markup:
    """``text`` escaped, each `backticked` part as <code> (the problems /healthz reports are written for both)."""
    return Markup(TICKED.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


def end_reason(code: str | None) -> str:
    return words.end_reason(code)


def event_sentence(entry: dict[str, Any]) -> str:
    detail = entry.get("detail")
    return words.event_sentence(entry["kind"], detail if isinstance(detail, dict) else {})


FILTERS = {"code_spans": code_spans, "end_reason": end_reason, "event_sentence": event_sentence}
