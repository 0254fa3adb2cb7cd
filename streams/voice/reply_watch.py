"""The watch on every reply: a turn heard and answered in words must be answered in sound."""

from __future__ import annotations

from typing import Any

from streams import events as ev
from streams.playback import Utterance
from streams.voice.port import CallPort


def watch_reply(port: CallPort, reply: Utterance, turn: int, limit: float, pipeline: Any) -> None:
    """End a call that cannot speak, loudly (``pipeline.closing``: the call is ending anyway).

    Whatever stops the reply (a TTS pool with no worker left, a dead writer, a wedged link), a call that
    hears the caller and never answers must not look healthy: the turn goes on the timeline as
    ``turn.unanswered`` (counted in /metrics), the log says so, and the call ends as ``reply_failed``.
    """
    if port.wait_started(reply, limit) or pipeline.closing:
        return
    state = port.diagnose()
    port.log.error(
        "turn %d was heard but its reply did not start within %.1fs (reply: %d bytes ready, complete %s; %s): "
        "ending the call", turn, limit, len(reply.pcm), reply.complete, state,
    )  # fmt: skip
    info = {"n": turn, "reply": reply.text[:200], "waited_s": limit, "audio_ready": bool(reply.pcm), "link": state}
    port.publish(ev.Note(call_id=port.call_id, what="turn.unanswered", info=info))
    port.end("reply_failed")
