"""The media link: a call's socket, its one reader, its one writer and the playback clock.

The reader (``serve``, in the socket handler's greenlet) parses each message and hands it to the
call; caller audio also goes to the recorder and to listen-in taps (shed first when the loop is
late: streams/shedding.py). One writer greenlet sends everything: control messages and PCMO first,
then audio paced on the playback clock (PROTOCOL.md section 5), so at any moment ``heard`` says
what the caller has actually heard. Nothing else ever writes to the socket. A second socket
replaces the first (``attach``); a socket lost without a close frame leaves the link detached
(``detach``), the writer holding everything as when paused, until a redial attaches another.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event

from actions import AudioMessages, encode, interrupt
from streams.audio import Resampler  # 32 kHz streams: listen-in's caller, the recording's bot leg (#23.7)
from streams.errors import CallBusy, CallNotLive
from streams.link import protocol, report
from streams.link.intake import Intake, heard_by_recogniser
from streams.link.recorder import Recorder
from streams.link.settings import CLOSE_REPLACED, LinkSettings, Receiver, Tap
from streams.link.websocket import ConnectionClosed, Socket
from streams.playback import Playback, Utterance
from streams.shedding import SHEDDING

log = logging.getLogger(__name__)


class MediaLink:
    def __init__(
        self,
        settings: LinkSettings,
        *,
        log: logging.LoggerAdapter | logging.Logger = log,
        recorder: Recorder | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.rate, self.out_rate = settings.rate, settings.out_rate
        self._heard_at_out, self._bot_at_in = Resampler(self.rate, self.out_rate), Resampler(self.out_rate, self.rate)
        self.log = log
        self.recorder = recorder
        self.clock = clock
        self.counters: Counter[str] = Counter()
        self.intake = Intake(self.rate, settings.audio, settings.burst, settings.flood, clock())
        self.playback = Playback(self.out_rate, settings.chunk_ms, settings.lead_ms, settings.audio_queue)
        self.audio_held = False  # paused or stopped: the writer sends no audio
        self.taps: set[Tap] = set()
        self.sock: Socket | None = None
        self._audio = AudioMessages(self.out_rate)
        self._control: deque[Any] = deque()
        self._wake = Event()
        self._closing = False
        self._writer: gevent.Greenlet | None = None
        self._writer_failed = False
        self._sending = False  # the writer is inside a socket send (a slow peer blocks it there)
        self.on_writer_failed: Callable[[], None] | None = None  # the call ends itself

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._writer = gevent.spawn(self._write_loop)

    def attach(self, sock: Socket) -> Socket | None:
        """Make ``sock`` the link's socket; return the older one, closed as replaced."""
        old, self.sock = self.sock, sock
        if old is not None:
            self.counters["sockets_replaced"] += 1
            old.close(CLOSE_REPLACED, "replaced by a newer socket for this call")
        self._wake.set()
        return old

    @property
    def open(self) -> bool:
        return not self._closing

    def detach(self, sock: Socket) -> bool:
        """The peer lost ``sock`` without a close frame: hold everything until a redial attaches another."""
        if self.sock is not sock:
            return False
        self.sock = None
        self.counters["sockets_dropped"] += 1
        return True

    def serve(self, sock: Socket, receiver: Receiver) -> str:
        """Read ``sock`` until it closes, is replaced or the link closes: "closed" when the peer closed it with a
        close frame, "dropped" when it went without one, "flooded" when it sent audio far faster than real time
        (streams/link/intake.py), "" when it was replaced or the link is closing."""
        first = True  # the module sends its metadata first on every socket it opens
        while self.sock is sock and not self._closing and not self.intake.flooded:
            try:
                message = sock.receive(timeout=0.5)
            except ConnectionClosed:
                break
            now = self.clock()
            if message is not None:
                if first and isinstance(message, str):
                    item: protocol.Inbound = protocol.metadata(message, self.settings.max_frame_bytes)
                else:
                    item = protocol.parse(message, self.settings.max_frame_bytes)
                first = False
                self._dispatch(item, now, receiver)
            receiver.on_tick(now)
            if message is None and not sock.connected:
                break
        self.counters["socket_reads"] += getattr(sock, "reads", 0)
        if self.sock is not sock or self._closing:
            return ""
        if self.intake.flooded:
            return "flooded"
        return "dropped" if getattr(sock, "dropped", False) else "closed"

    def close(self, code: int, reason: str, last: Any = None) -> None:
        """Send ``last`` (e.g. a hangup PCMO) after what is queued, then the close frame; stop the writer."""
        if self._closing:
            return
        if last is not None and self.sock is not None:
            self._control.append(last)
        self._closing = True
        self._wake.set()
        if self._writer is not None and gevent.getcurrent() is not self._writer:
            self._writer.join(timeout=2)
            self._writer.kill(block=False)
        if self._writer_failed and last is not None and last in self._control:
            self._send_text(encode(last))  # no writer left to send it: the hangup still reaches the platform
        if self.sock is not None:
            self.sock.close(code, reason)
        self.playback.interrupt(self.clock())
        for tap in tuple(self.taps):
            tap("end", None)

    # -- inbound ----------------------------------------------------------------------------
    def _dispatch(self, item: protocol.Inbound, now: float, receiver: Receiver) -> None:
        if isinstance(item, protocol.Audio):
            item = self.intake.take(item, now)  # at most real time plus a burst; the caller's channel of stereo
        if isinstance(item, protocol.Audio):
            pcm = item.pcm
            self.counters["frames_in"] += 1
            self.counters["bytes_in"] += len(pcm)
            if self.recorder is not None and not SHEDDING.sheds("recording", self.counters):
                self.recorder.caller_audio(pcm, now)
            if self.taps and not SHEDDING.sheds("listen_in", self.counters):  # both legs, at our audio's rate
                heard = self._heard_at_out(pcm)
                for tap in tuple(self.taps):
                    tap("caller", heard)
            receiver.on_audio(heard_by_recogniser(pcm, self.settings.audio, self.playback.audible(now)), now)
        elif isinstance(item, protocol.Event):
            self.counters["events_in"] += 1
            receiver.on_event(item, now)
        elif isinstance(item, protocol.Metadata):
            self.counters["metadata_in"] += 1
            receiver.on_metadata(item, now)
        else:
            key = f"dropped_{item.reason}"
            self.counters[key] += 1
            if self.counters[key] <= 3 or self.counters[key] % 100 == 0:  # the first few, then every hundredth
                self.log.warning("dropped %s (%d bytes), %d so far", item.reason, item.size, self.counters[key])

    # -- outbound ---------------------------------------------------------------------------
    def send(self, message: dict[str, Any] | list[dict[str, Any]], *, first: bool = False) -> None:
        """Queue a control message or PCMO for the writer, ahead of any audio."""
        if self._closing:
            raise CallNotLive("The call's stream has ended.")
        if len(self._control) >= self.settings.control_queue:
            raise CallBusy("Too many messages are waiting to be sent on this call.")
        if first:
            self._control.appendleft(message)
        else:
            self._control.append(message)
        self._wake.set()

    def enqueue(self, utterance: Utterance) -> Utterance:
        """Queue audio (L16 at the link's rate) for the caller to hear."""
        if self._closing:
            raise CallNotLive("The call's stream has ended.")
        if not self.playback.enqueue(utterance):
            self.counters["dropped_utterance"] += 1
            raise CallBusy("Too much audio is queued on this call.")
        self._wake.set()
        return utterance

    def wake(self) -> None:
        self._wake.set()

    def interrupt(self) -> list[dict[str, Any]]:
        """Barge-in: ``break`` ahead of everything, drop queued audio; return what was cut."""
        now = self.clock()
        cuts = self.playback.interrupt(now)
        if self.recorder is not None:
            self.recorder.cut(now)
        self.send(interrupt(), first=True)
        self.counters["interrupts"] += 1
        return cuts

    def heard(self, utterance: Utterance) -> bool:
        return utterance.heard_by(self.clock())

    def wait_heard(self, utterance: Utterance | None, limit: float = 30.0) -> bool:
        """Wait until the caller has heard ``utterance`` (bounded); False if the link closed first."""
        if utterance is None:
            return True
        for _ in range(int(limit / 0.02)):
            if self._closing:
                return False
            if self.heard(utterance):
                return True
            gevent.sleep(0.02)
        return False

    def wait_started(self, utterance: Utterance, limit: float) -> bool:
        """Wait until ``utterance``'s first audio is on the wire (or it was cut, or the link closed).

        False when ``limit`` seconds went by in which the link could have been sending it and sent
        nothing at all: not paused, no audio of ours still playing. Time spent behind other audio or
        on hold does not count, so a reply queued after a long line is not mistaken for a stuck one.
        """
        stuck, step = 0.0, 0.25  # a reply starts in a few 100 ms: a wake-up every 0.25 s is cheap; at most an hour
        for _ in range(int(3600 / step)):
            if utterance.first_sent_at is not None or utterance.cut or self._closing:
                return True
            if not self.audio_held and self.sock is not None and self.playback.clock <= self.clock():
                stuck += step
                if stuck >= limit:
                    return False
            gevent.sleep(step)
        return False

    def _write_loop(self) -> None:
        """The writer; if it fails, the call is told (``on_writer_failed``): a link that cannot send must
        never look alive while its reader goes on hearing the caller."""
        try:
            self._write()
        except Exception:  # noqa: BLE001 - logged with its traceback, counted, and the call ends
            self.counters["writer_failed"] += 1
            self.log.exception("the stream writer failed: nothing more can be sent on this call")
            self._writer_failed = True
            if not self._closing and self.on_writer_failed is not None:
                gevent.spawn(self.on_writer_failed)

    def _write(self) -> None:
        while True:
            self._wake.clear()
            if self._control and self.sock is not None:
                self._send_text(encode(self._control.popleft()))
                continue
            if self._closing:
                return
            hint = None
            if not self.audio_held and self.sock is not None:
                now = self.clock()
                item = self.playback.next_chunk(now)
                if item is not None:
                    self._send_audio(*item)
                    continue
                hint = self.playback.wait_hint(now)
            self._wake.wait(timeout=1.0 if hint is None else max(hint, 0.002))

    def _send_audio(self, utterance: Utterance, chunk: bytes, plays_at: float) -> None:
        if not self._send_text(self._audio.encode(chunk)):
            return
        self.counters["audio_out"] += 1
        self.counters["audio_bytes_out"] += len(chunk)
        if self.recorder is not None and not SHEDDING.sheds("recording", self.counters):  # the stream's rate
            leg = self._bot_at_in(chunk)
            self.recorder.bot_audio(leg, plays_at)
        if self.taps and not SHEDDING.sheds("listen_in", self.counters):
            for tap in tuple(self.taps):
                tap("bot", chunk)
        if utterance.sent == len(chunk) and utterance.on_start is not None:
            utterance.on_start(utterance)
        if utterance.complete and utterance.sent >= len(utterance.pcm) and utterance.on_sent is not None:
            utterance.on_sent(utterance)

    def _send_text(self, text: str) -> bool:
        sock = self.sock
        if sock is None:
            return False
        self._sending = True
        try:
            sock.send_text(text)
        except (ConnectionError, ConnectionClosed, OSError):
            self.counters["send_failures"] += 1
            return False
        finally:
            self._sending = False
        self.counters["messages_out"] += 1
        return True

    def diagnose(self) -> dict[str, Any]:
        return report.diagnose(self)

    def stats(self) -> dict[str, Any]:
        return report.stats(self.counters)
