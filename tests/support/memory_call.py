"""One call, in memory: the real ``Call`` and ``MediaLink`` on a socket and a clock the test drives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent

from emulator.service import ROOT
from streams.events import CallEvent, EventBus
from streams.link.media_link import MediaLink
from streams.link.settings import LinkSettings
from streams.session.call import Call
from streams.session.media_files import MediaFiles
from streams.session.settings import CallSettings
from tests.support.memsocket import FakeClock, MemorySocket, settle

FRAME = b"\x01\x00" * 160  # 20 ms at 8 kHz
Fetch = Callable[[str], bytes]
HUMAN = {"numbers": ["919000000077"], "timeout": 40, "loop": 1, "duration": 5400}


class MemoryCall:
    """A live ``Call`` on an in-memory socket with a clock the test moves: the stream session, no server."""

    def __init__(
        self, agent: dict[str, Any] | None = None, call_id: str = "c1", fetch: Fetch | None = None, **settings: Any
    ) -> None:
        self.clock = FakeClock()
        self.sock = MemorySocket()
        self.bus = EventBus()
        self.events: list[CallEvent] = []
        self.bus.on_local(self.events.append)
        self.link = MediaLink(LinkSettings(rate=8000, lead_ms=200, chunk_ms=100), clock=self.clock)
        self.call = Call(
            call_id,
            agent=agent if agent is not None else {"human": HUMAN},
            settings=CallSettings(**{"caller_id": "919000000000", **settings}),
            link=self.link,
            bus=self.bus,
            media=MediaFiles(ROOT / "media", "https://svc.test", fetch),
        )
        self.call.attach(self.sock)
        self.call.start()
        self.reader = gevent.spawn(self._handler)

    def _handler(self) -> None:
        """What flask-sock does: run the handler, then close the socket (a bare 1000) when it returns."""
        self.call.serve(self.sock)
        self.sock.close(1000, "")

    def live(self) -> MemoryCall:
        self.sock.push(FRAME)
        settle()
        assert self.call.state == "live"
        return self

    def play_for(self, seconds: float) -> None:
        """Time passes in 20 ms steps, as it does for the writer."""
        for _ in range(round(seconds / 0.02)):
            self.clock.advance(0.02)
            self.link.wake()
            settle(0.002)

    def of(self, cls: type[CallEvent]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    def close(self) -> None:
        if not self.call.ended:
            self.call.end("test_over", hangup=False)
        self.reader.kill()
