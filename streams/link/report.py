"""What a media link tells about itself: its counters as the call's stats, and where its audio stands."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.link.media_link import MediaLink

OPTIONAL = ("metadata_in", "writer_failed", "audio_excess_frames", "socket_reads")  # shown only when they happened


def stats(counters: Counter[str]) -> dict[str, Any]:
    """The link's counters as the call's ``stats`` (the API and the CallEnded event carry them)."""
    return {
        "frames_in": counters["frames_in"],
        "bytes_in": counters["bytes_in"],
        "audio_messages_out": counters["audio_out"],
        "audio_bytes_out": counters["audio_bytes_out"],
        "messages_out": counters["messages_out"],
        "events_in": counters["events_in"],
        "dropped": {key[8:]: value for key, value in counters.items() if key.startswith("dropped_")},
        "shed": {key[5:]: value for key, value in counters.items() if key.startswith("shed_")},  # streams/shedding
        "sockets_replaced": counters["sockets_replaced"],
        "sockets_dropped": counters["sockets_dropped"],
        **{key: counters[key] for key in OPTIONAL if counters[key]},
    }


def diagnose(link: MediaLink) -> dict[str, Any]:
    """Where audio stands on ``link``, for a log line when a call cannot speak: is the writer alive, what is it
    waiting for, what is playing and queued."""
    now, current, writer = link.clock(), link.playback.current, link._writer
    state = "none" if writer is None else "failed" if link._writer_failed else "dead" if writer.dead else "alive"
    return {
        "writer": state,
        "writer_sending": link._sending,
        "held": link.audio_held,
        "detached": link.sock is None,
        "control_queued": len(link._control),
        "audio_queued": len(link.playback.queue),
        "clock_ahead_s": round(link.playback.clock - now, 3),
        "current": current
        and {"kind": current.kind, "complete": current.complete, "bytes": len(current.pcm), "sent": current.sent},
        "messages_out": link.counters["messages_out"],
    }
