"""Music and prompts on a call: streamed by us (decoded, resampled) or as a PCMO play action."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gevent.pool import Group

from actions import PCMO
from streams.errors import BadMedia, CallError
from streams.events import CallEvent, Played, PlayFailed
from streams.link.media_link import MediaLink
from streams.playback import Utterance
from streams.session.media_files import MediaError, MediaFiles
from streams.session.speaker import spoken

log = logging.getLogger(__name__)


def safe_reason(exc: Exception) -> str:
    """A failure worth storing and showing: ours in words, never a remote host's internals."""
    if isinstance(exc, MediaError):
        return str(exc)[:200]
    name = type(exc).__name__
    if "Timeout" in name:
        return "the file took too long to fetch"
    if "HTTPError" in name or "ConnectionError" in name or isinstance(exc, OSError):
        return "the file could not be fetched"
    return "the file is not audio we can play"


class Player:
    def __init__(
        self,
        media: MediaFiles,
        link: MediaLink,
        tasks: Group,
        publish: Callable[[CallEvent], None],
        call_id: str,
        default_mode: str = "stream",
        remaining_ms: Callable[[], float] = lambda: float("inf"),
    ) -> None:
        self.media = media
        self.link = link
        self.tasks = tasks
        self.publish = publish
        self.call_id = call_id
        self.default_mode = default_mode
        self.remaining_ms = remaining_ms  # what the call has left: no play decodes to more (#25.2)

    def play(self, ref: str, mode: str | None = None) -> dict[str, Any]:
        """Start playing ``ref``; a file that turns out bad fails the play (on the timeline), not the call."""
        mode = mode or self.default_mode
        if mode == "pcmo":
            try:
                url = self.media.url_for(ref)
            except MediaError as exc:
                raise BadMedia(str(exc), field="file") from None
            self.link.send(PCMO().playMusic(url).PCMO())
            self.publish(Played(call_id=self.call_id, file=ref, mode="pcmo"))
            return {"sent": "play", "mode": "pcmo"}
        self.tasks.spawn(self._stream, ref)
        return {"queued": "play", "mode": "stream"}

    def _stream(self, ref: str) -> None:
        try:
            pcm = self.media.decode(ref, self.link.out_rate, self.remaining_ms())
        except Exception as exc:  # noqa: BLE001 - a bad file fails the play, not the call
            log.warning("call %s: cannot play %s: %s", self.call_id, ref, exc)
            self.publish(PlayFailed(call_id=self.call_id, file=ref, error=safe_reason(exc)))
            return
        try:
            music = Utterance(text=f"[music {ref}]", kind="music", pcm=bytearray(pcm))
            music.on_sent = lambda u: self.publish(spoken(self.call_id, u, self.link.clock(), self.link.out_rate))
            self.link.enqueue(music)
        except CallError as exc:
            self.publish(PlayFailed(call_id=self.call_id, file=ref, error=exc.message))
            return
        self.publish(Played(call_id=self.call_id, file=ref, ms=round(len(pcm) / self.link.out_rate / 2 * 1000)))
