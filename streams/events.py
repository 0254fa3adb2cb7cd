"""Live call events, in process: one blinker signal the dashboard listens to.

    publish(call_id, "transcript.partial", text="…")  # -> call_event.send(call_id, event=…, data={…})

Sessions and voice pipelines publish; nothing here blocks or keeps history
(the timeline in the database is the record; this is the live feed).
"""

from __future__ import annotations

from typing import Any

from blinker import Namespace

_signals = Namespace()
call_event = _signals.signal("call-event")


def publish(call_id: str, event: str, **data: Any) -> None:
    call_event.send(call_id, event=event, data=data)
