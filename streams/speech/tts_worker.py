"""One pyttsx3 engine in its own process (python -m streams.speech.tts_worker).

pyttsx3 keeps one engine per process and is unsafe across threads and
greenlets, so each worker owns one engine and serves one request at a time.
Protocol, on the worker's original stdout: a JSON request line in; a JSON
header line out (``{"ok", "rate", "bytes"}`` or ``{"ok": false, "error"}``)
followed by that many bytes of L16 mono PCM. pyttsx3 prints "Audio saved to…"
on stdout, so the worker moves fd 1 to stderr before the engine starts.

pyttsx3's espeak driver synthesises on espeak-ng's own thread (``runAndWait``
returns before the audio is made: its queue ends the loop at once) and writes
the file from espeak's callback. A request that starts while that thread is
still inside the previous one's callbacks loses audio: under CPU load one line
in ten came back empty or cut short (the second request of a fresh worker most
of all, which is a warm-up line, and a cached empty line is a mute reply for
every call until restart). So each request waits, with ``espeak_Synchronize``,
until espeak-ng has delivered everything before it starts and before the file
is read; and a line with words that comes back without audio is an error.
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


def _reply(out: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    out.write(json.dumps(header).encode() + b"\n" + payload)
    out.flush()


def main() -> None:
    # The parent ends us by closing stdin. A SIGTERM to the whole process group (a PaaS stopping the
    # dyno) must not kill the voice that is telling callers the service is going away.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything printed from here on goes to stderr
    import pyttsx3
    from pyttsx3.drivers import _espeak as espeak

    engine = pyttsx3.init()
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
            espeak.Synchronize()  # the last line's synthesis has delivered everything (see _synthesise)
            finished.clear()
            if os.path.exists(path):
                os.remove(path)
            engine.save_to_file(text, path)
            engine.runAndWait()
            # runAndWait can return before the file is complete: wait for the callback and a stable size.
            deadline = time.monotonic() + 5
            while (not finished or not os.path.exists(path)) and time.monotonic() < deadline:
                time.sleep(0.002)
            espeak.Synchronize()
            with wave.open(path) as reader:
                pcm = reader.readframes(reader.getnframes())
                sample_rate = reader.getframerate()
            if not pcm and any(ch.isalnum() for ch in text):
                raise RuntimeError(f"espeak-ng produced no audio for {text[:60]!r}")
            _reply(protocol_out, {"ok": True, "rate": sample_rate, "bytes": len(pcm), "voice": voice}, pcm)
        except Exception as exc:  # noqa: BLE001 - report, and stay alive for the next request
            _reply(protocol_out, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    main()
