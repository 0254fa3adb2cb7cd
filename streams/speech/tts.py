"""Text to speech: a small pool of pyttsx3 worker processes, fed without blocking.

The pool starts its workers lazily (after gunicorn forks) with gevent's
subprocess when the process is patched, so a greenlet waiting for audio
never blocks the loop. A hung or dead worker is killed and replaced. An LRU
cache keeps recent phrases (greetings, hold messages, fallbacks).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from streams.audio import resample
from streams.offload import in_gevent

log = logging.getLogger(__name__)


class TTSError(RuntimeError):
    pass


@dataclass(frozen=True)
class TtsVoice:
    """What a line is synthesised with: an espeak-ng voice (id, name or language) and a rate in words a minute."""

    name: str = "en-us"
    rate: int = 160


class _Worker:
    def __init__(self, popen: Any, timeout: float) -> None:
        self.timeout = timeout
        self.tries = 1  # how many tries the last line took
        self.proc = popen(
            [sys.executable, "-m", "streams.speech.tts_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        hello = self._read_header()
        if not hello.get("ready"):
            raise TTSError(f"TTS worker did not start: {hello}")

    def _read_header(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            raise TTSError("TTS worker exited")
        return json.loads(line)

    def synthesize(self, text: str, voice: str, rate: int) -> tuple[bytes, int]:
        self.tries = 1
        self.proc.stdin.write(json.dumps({"text": text, "voice": voice, "rate": rate}).encode() + b"\n")
        self.proc.stdin.flush()
        header = self._read_header()
        if not header.get("ok"):
            raise TTSError(header.get("error", "TTS failed"))
        size = int(header["bytes"])
        self.tries = int(header.get("tries", 1))  # > 1: espeak-ng cancelled or emptied the line and it was redone
        pcm = bytearray()
        while len(pcm) < size:
            part = self.proc.stdout.read(size - len(pcm))
            if not part:
                raise TTSError("TTS worker exited mid-answer")
            pcm.extend(part)
        return bytes(pcm), int(header["rate"])

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=2)
        except Exception:  # noqa: BLE001
            pass


class TTSPool:
    def __init__(self, size: int = 2, timeout: float = 10.0, cache_size: int = 256) -> None:
        self.size = size
        self.timeout = timeout
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str, int, int], bytes] = OrderedDict()
        self._idle: Any = None
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.available: bool | None = None  # unknown until the first worker starts
        self.error: str | None = None
        self.stats = {"requests": 0, "cache_hits": 0, "errors": 0, "restarts": 0, "redone": 0}

    def _popen(self) -> Any:
        if in_gevent():
            from gevent import subprocess as gsubprocess

            return gsubprocess.Popen
        return subprocess.Popen

    def _queue(self) -> Any:
        if in_gevent():
            from gevent.queue import Queue
        else:
            from queue import Queue
        return Queue()

    def start(self) -> None:
        """Start the workers (idempotent); records why when espeak-ng/pyttsx3 cannot run."""
        with self._lock:
            if self._idle is not None:
                return
            self._idle = self._queue()
            for _ in range(self.size):
                try:
                    worker = _Worker(self._popen(), self.timeout)
                except Exception as exc:  # noqa: BLE001
                    self.available = False
                    self.error = str(exc)
                    log.error("TTS is unavailable: %s (is espeak-ng installed?)", exc)
                    return
                self._workers.append(worker)
                self._idle.put(worker)
            self.available = True

    def synthesize(self, text: str, voice: str, rate: int, out_rate: int) -> bytes:
        """L16 mono at ``out_rate`` for ``text``; raises TTSError."""
        key = (text, voice, rate, out_rate)
        cached = self._cache.get(key)
        self.stats["requests"] += 1
        if cached is not None:
            self._cache.move_to_end(key)
            self.stats["cache_hits"] += 1
            return cached
        self.start()
        if not self.available:
            raise TTSError(f"TTS is unavailable: {self.error}")
        try:
            worker = self._idle.get(timeout=self.timeout)
        except Exception:  # queue.Empty: every worker stayed busy for the whole timeout
            self.stats["errors"] += 1
            raise TTSError(f"no TTS worker was free within {self.timeout:g}s ({self.size} workers)") from None
        try:
            pcm, source_rate = self._with_timeout(worker, text, voice, rate)
        except TTSError:
            self.stats["errors"] += 1
            self._idle.put(worker)
            raise
        except BaseException as exc:
            # A hung or dead worker, or this greenlet killed mid-answer (its call ended: GreenletExit).
            # Either way the worker's reply is unread, so it can never serve another request: replace
            # it. Returning it would hand the next caller this one's audio; not returning it (what a
            # bare ``except Exception`` did) shrank the pool for good, and once every worker had leaked
            # each new line waited the full timeout and failed.
            self.stats["errors"] += 1
            self._replace(worker)
            if not isinstance(exc, Exception):
                raise
            raise TTSError(f"TTS worker failed ({type(exc).__name__}); it was replaced") from None
        self._idle.put(worker)
        self.stats["redone"] += worker.tries > 1
        if not pcm:  # never cached: an empty line would be a mute reply for every later call
            if not any(ch.isalnum() for ch in text):
                return b""  # nothing to say ("…"): silence is the right answer
            self.stats["errors"] += 1
            raise TTSError(f"TTS produced no audio for {text[:60]!r}")
        audio = resample(pcm, source_rate, out_rate)
        self._cache[key] = audio
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return audio

    def idle_workers(self) -> int | None:
        """Workers free right now (None before the pool started)."""
        return self._idle.qsize() if self._idle is not None else None

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` and put a fresh one in its place (in the background: the caller may be dying)."""
        self.stats["restarts"] += 1
        worker.kill()
        if worker in self._workers:
            self._workers.remove(worker)
        if in_gevent():
            import gevent

            gevent.spawn(self._add_worker)
        else:
            self._add_worker()

    def _add_worker(self) -> None:
        try:
            replacement = _Worker(self._popen(), self.timeout)
        except Exception as exc:  # noqa: BLE001 - the pool runs one worker short, said in the log
            log.error("a TTS worker could not be restarted: %s", exc)
            return
        if self._idle is None:  # closed meanwhile
            replacement.kill()
            return
        self._workers.append(replacement)
        self._idle.put(replacement)

    def _with_timeout(self, worker: _Worker, text: str, voice: str, rate: int) -> tuple[bytes, int]:
        if in_gevent():
            import gevent

            with gevent.Timeout(self.timeout, TimeoutError("TTS took too long")):
                return worker.synthesize(text, voice, rate)
        return worker.synthesize(text, voice, rate)

    def close(self) -> None:
        for worker in self._workers:
            worker.kill()
        self._workers.clear()
        self._idle = None
