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
from typing import Any

from .audio import resample
from .offload import in_gevent

log = logging.getLogger(__name__)


class TTSError(RuntimeError):
    pass


class _Worker:
    def __init__(self, popen: Any, timeout: float) -> None:
        self.timeout = timeout
        self.proc = popen(
            [sys.executable, "-m", "streams.tts_worker"],
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
        self.proc.stdin.write(json.dumps({"text": text, "voice": voice, "rate": rate}).encode() + b"\n")
        self.proc.stdin.flush()
        header = self._read_header()
        if not header.get("ok"):
            raise TTSError(header.get("error", "TTS failed"))
        size = int(header["bytes"])
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
        self.stats = {"requests": 0, "cache_hits": 0, "errors": 0, "restarts": 0}

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
        worker = self._idle.get(timeout=self.timeout)
        try:
            pcm, source_rate = self._with_timeout(worker, text, voice, rate)
        except TTSError:
            self.stats["errors"] += 1
            self._idle.put(worker)
            raise
        except Exception as exc:  # noqa: BLE001 - a hung or dead worker is replaced
            self.stats["errors"] += 1
            self.stats["restarts"] += 1
            worker.kill()
            self._workers.remove(worker)
            replacement = _Worker(self._popen(), self.timeout)
            self._workers.append(replacement)
            self._idle.put(replacement)
            raise TTSError(f"TTS worker failed ({type(exc).__name__}); it was replaced") from None
        self._idle.put(worker)
        audio = resample(pcm, source_rate, out_rate)
        self._cache[key] = audio
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return audio

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
