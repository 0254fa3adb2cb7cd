"""One pyttsx3 engine in its own process (python -m streams.speech.tts_worker).

pyttsx3 keeps one engine per process and is unsafe across threads and
greenlets, so each worker owns one engine and serves one request at a time.
Protocol, on the worker's original stdout: a JSON request line in; a JSON
header line out (``{"ok", "rate", "bytes", "tries"}`` or ``{"ok": false, "error"}``)
followed by that many bytes of L16 mono PCM. pyttsx3 prints "Audio saved to…"
on stdout, so the worker moves fd 1 to stderr before the engine starts.

pyttsx3's espeak driver synthesises on espeak-ng's own thread (``runAndWait``
returns before the audio is made: its queue ends the loop at once) and writes
the file from espeak's callback; the loop's end calls the driver's ``stop``,
which cancels whatever espeak-ng still reports as playing. A request that
started while espeak-ng was still finishing the previous one was cancelled:
under CPU load, with two voices in turn, one line in ten came back empty or
cut short, and a cached empty line is a mute reply for every call until
restart. So each request waits until espeak-ng is idle before it starts and
before the file is read, a line that was cancelled (``completed=False``) or
came back empty is made again, and one with words that stays empty is an
error.

The cancel itself is also gone: a worker never interrupts a line, so the
driver's ``stop`` (which the loop's end calls, and which cancels what espeak-ng
is making) does nothing here. CI once got '안녕하세요.' back at 49,330 bytes of
its 63,780 under load, reported ``completed=True`` (tests/service/test_tts_pool.py,
1 line in 40, one run of many): that cancel is the only cut in the path we know
of (pyttsx3 2.99 writes whatever it has at espeak-ng's end-of-message event). It
was not reproduced on demand: synthesis outruns the loop's end unless the CPU is
busy.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import wave
from typing import Any, BinaryIO


def resolve_voice(voices: list[Any], wanted: str) -> str | None:
    """A voice id for ``wanted``: an exact id, an id's last part ("en-us"), or a language prefix ("en")."""
    wanted = wanted.strip().lower()
    ids = [v.id for v in voices]
    for vid in ids:
        if vid.lower() == wanted or vid.lower().rsplit("/", 1)[-1] == wanted:
            return vid
    for voice in voices:
        short = voice.id.lower().rsplit("/", 1)[-1]
        languages = [str(lang).lower() for lang in (voice.languages or [])]
        if short.startswith(wanted) or any(lang.startswith(wanted) for lang in languages):
            return voice.id
    return None


# Where the apt buildpack (heroku-community/apt) unpacks Debian's espeak-ng-data: under $HOME/.apt.
APT_ESPEAK_DATA = ".apt/usr/lib/x86_64-linux-gnu/espeak-ng-data"


def espeak_data_path(environ: dict[str, str]) -> str | None:
    """ESPEAK_DATA_PATH for an espeak-ng unpacked by the apt buildpack, when the platform did not set one.

    libespeak-ng looks for its voices at the path compiled into it (/usr/lib/…/espeak-ng-data); unpacked
    under $HOME/.apt it finds nothing and pyttsx3 cannot start. .profile.d/espeak-ng.sh sets it at boot;
    this covers a platform that does not source .profile.d.
    """
    if environ.get("ESPEAK_DATA_PATH"):
        return None
    candidate = os.path.join(environ.get("HOME") or "/app", APT_ESPEAK_DATA)
    return candidate if os.path.isdir(candidate) else None


def _never_cancel() -> None:
    """The espeak driver's ``stop``, in a worker that never interrupts a line it was asked for."""


def _reply(out: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    out.write(json.dumps(header).encode() + b"\n" + payload)
    out.flush()


def _idle(espeak: Any, limit: float = 2.0) -> None:
    """Until espeak-ng has delivered everything and says it is not playing (bounded)."""
    espeak.Synchronize()
    deadline = time.monotonic() + limit
    while espeak.IsPlaying() and time.monotonic() < deadline:
        time.sleep(0.002)


def _synthesise(
    engine: Any, espeak: Any, finished: list[bool], text: str, path: str, tries: int = 3
) -> tuple[bytes, int, int]:
    """``text`` as L16, its rate and the tries it took: whole, or an error; never a cancelled or empty line.

    ``runAndWait`` ends its loop by calling the driver's ``stop``, which cancels whatever espeak-ng still
    reports as playing: if that is this line (the previous one's callbacks were late), the line is cut or
    written empty, and ``finished-utterance`` says ``completed=False``. Such a line is made again.
    """
    words = any(ch.isalnum() for ch in text)
    pcm, sample_rate = b"", 0
    for attempt in range(1, tries + 1):
        _idle(espeak)
        finished.clear()
        if os.path.exists(path):
            os.remove(path)
        engine.save_to_file(text, path)
        engine.runAndWait()
        deadline = time.monotonic() + 5  # runAndWait returns before the audio exists: wait for espeak-ng
        while (not finished or not os.path.exists(path)) and time.monotonic() < deadline:
            time.sleep(0.002)
        _idle(espeak)
        with wave.open(path) as reader:
            pcm = reader.readframes(reader.getnframes())
            sample_rate = reader.getframerate()
        if finished and all(finished) and (pcm or not words):
            return pcm, sample_rate, attempt
    if not pcm and words:
        raise RuntimeError(f"espeak-ng produced no audio for {text[:60]!r} in {tries} tries")
    return pcm, sample_rate, tries


def main() -> None:
    # The parent ends us by closing stdin. A SIGTERM to the whole process group (a PaaS stopping the
    # dyno) must not kill the voice that is telling callers the service is going away.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything printed from here on goes to stderr
    data_path = espeak_data_path(dict(os.environ))
    if data_path:
        os.environ["ESPEAK_DATA_PATH"] = data_path  # read by libespeak-ng when pyttsx3 initialises it
    import pyttsx3
    from pyttsx3.drivers import _espeak as espeak

    engine = pyttsx3.init()
    engine.proxy._driver.stop = _never_cancel  # see the module's docstring: the loop's end must not cut a line
    voices = list(engine.getProperty("voices"))
    finished: list[bool] = []
    engine.connect("finished-utterance", lambda name, completed: finished.append(completed))
    current: tuple[str, int] | None = None
    folder = tempfile.mkdtemp(prefix="tts-")
    path = os.path.join(folder, "out.wav")
    _reply(protocol_out, {"ok": True, "ready": True, "voices": len(voices)})
    for line in sys.stdin:
        try:
            request = json.loads(line)
            text, wanted, rate = str(request["text"]), str(request["voice"]), int(request["rate"])
            voice = resolve_voice(voices, wanted)
            if voice is None:
                raise ValueError(f"no espeak-ng voice matches {wanted!r}")
            if current != (voice, rate):
                engine.setProperty("voice", voice)
                engine.setProperty("rate", rate)
                current = (voice, rate)
            pcm, sample_rate, tries = _synthesise(engine, espeak, finished, text, path)
            header = {"ok": True, "rate": sample_rate, "bytes": len(pcm), "voice": voice, "tries": tries}
            _reply(protocol_out, header, pcm)
        except Exception as exc:  # noqa: BLE001 - report, and stay alive for the next request
            _reply(protocol_out, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    main()
