"""Pure audio helpers: L16 framing, resampling, decoding, level.

Everything is 16-bit signed little-endian mono PCM ("L16") unless a name says
otherwise. Frames on the wire are whole multiples of 20 ms.
"""

from __future__ import annotations

import audioop  # stdlib to 3.12; the audioop-lts package provides it on 3.13+
import io
import math
import struct
from collections.abc import Iterator

import numpy as np
import soxr

FRAME_MS = 20
SAMPLE_WIDTH = 2


def bytes_per_ms(rate: int) -> float:
    return rate * SAMPLE_WIDTH / 1000


def frame_bytes(rate: int, ms: int = FRAME_MS) -> int:
    """Bytes in ``ms`` of L16 mono at ``rate`` (320 for 20 ms at 8 kHz)."""
    return int(rate * ms / 1000) * SAMPLE_WIDTH


def duration_ms(pcm: bytes | bytearray | memoryview, rate: int) -> float:
    return len(pcm) / bytes_per_ms(rate)


def pad_to_frames(pcm: bytes, rate: int) -> bytes:
    """Pad with silence to a whole number of 20 ms frames."""
    size = frame_bytes(rate)
    remainder = len(pcm) % size
    return pcm if remainder == 0 else pcm + b"\x00" * (size - remainder)


def chunks(pcm: bytes, rate: int, chunk_ms: int) -> Iterator[bytes]:
    """Split into chunks of ``chunk_ms`` (a multiple of 20 ms); the last one padded to whole frames."""
    if chunk_ms % FRAME_MS:
        raise ValueError("chunk_ms must be a multiple of 20")
    pcm = pad_to_frames(pcm, rate)
    size = frame_bytes(rate, chunk_ms)
    for start in range(0, len(pcm), size):
        yield pcm[start : start + size]


# soxr's "high quality" (a linear-phase low-pass, flat to ~0.9 of the lower Nyquist frequency, -100 dB past it):
# audioop.ratecv interpolated linearly with no filter, so espeak-ng's 4-11 kHz folded back into 8 kHz calls (#23.7).
QUALITY = "HQ"


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """A whole buffer (a TTS line, a file) at another rate, through soxr's anti-alias filter.

    Audio that arrives frame by frame goes through a ``Resampler`` instead: this one
    starts and ends every buffer in silence, a click at each frame's edge.
    """
    if from_rate == to_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, np.int16, len(pcm) // SAMPLE_WIDTH)
    return soxr.resample(samples, from_rate, to_rate, quality=QUALITY).tobytes()


class Resampler:
    """One stream resampled frame by frame, its filter's state kept between frames (one per call and path).

    Each frame is filtered with the ``CONTEXT_MS`` before it, and only up to
    ``LOOKAHEAD_MS`` before its end: the output lags the input by that much and
    equals, within a couple of LSB, what resampling the whole stream at once gives,
    so frame edges carry no click. Out comes exactly ``to_rate / from_rate`` of
    what went in (input samples that do not make whole output samples wait).
    """

    CONTEXT_MS = 8
    LOOKAHEAD_MS = 8

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate, self.to_rate = from_rate, to_rate
        self.step = from_rate // math.gcd(from_rate, to_rate)  # input samples per whole number of output samples
        self.lookahead = self._whole(from_rate * self.LOOKAHEAD_MS // 1000)
        self._history = np.zeros(self._whole(from_rate * self.CONTEXT_MS // 1000) + self.lookahead, np.int16)
        self._carry = np.zeros(0, np.int16)

    def _whole(self, samples: int) -> int:
        return -(-samples // self.step) * self.step

    def __call__(self, pcm: bytes) -> bytes:
        if self.from_rate == self.to_rate:
            return pcm
        fresh = np.frombuffer(pcm, np.int16, len(pcm) // SAMPLE_WIDTH)
        samples = np.concatenate((self._carry, fresh))
        usable = len(samples) // self.step * self.step
        self._carry = samples[usable:]
        if not usable:
            return b""
        window = np.concatenate((self._history, samples[:usable]))
        converted = soxr.resample(window, self.from_rate, self.to_rate, quality=QUALITY)
        start = (len(window) - self.lookahead - usable) * self.to_rate // self.from_rate
        count = usable * self.to_rate // self.from_rate
        self._history = window[len(window) - len(self._history) :]
        out = converted[start : start + count]
        return out.tobytes() if len(out) == count else np.pad(out, (0, count - len(out))).tobytes()


def rms(pcm: bytes) -> int:
    """Root-mean-square level of L16 audio (0 for silence, ~32767 for full scale)."""
    return audioop.rms(pcm, SAMPLE_WIDTH) if pcm else 0


def silence(rate: int, ms: float) -> bytes:
    return b"\x00" * (int(rate * ms / 1000) * SAMPLE_WIDTH)


def tone(rate: int, ms: float, freq: float = 440.0, amplitude: float = 0.3) -> bytes:
    """A sine tone (for test audio and the shipped hold music)."""
    count = int(rate * ms / 1000)
    peak = int(32767 * amplitude)
    return b"".join(struct.pack("<h", int(peak * math.sin(2 * math.pi * freq * i / rate))) for i in range(count))


# Audio we accept to decode: rates and channel counts real files have. A header claiming 1 Hz
# resampled to 8 kHz turned a 60 KB file into 480 MB of PCM (#25.2).
SOURCE_RATES = (8000, 48000)
SOURCE_CHANNELS = (1, 2)


class AudioFormatError(ValueError):
    """A file whose format no real recording has; the message is safe to store and show."""


def check_plausible(rate: int, channels: int) -> None:
    low, high = SOURCE_RATES
    if not low <= rate <= high:
        raise AudioFormatError(f"a sample rate of {rate} Hz is not audio we play ({low}-{high} Hz)")
    if channels not in SOURCE_CHANNELS:
        raise AudioFormatError(f"{channels} channels is not audio we play (mono or stereo)")


def wav_to_l16(data: bytes, rate: int, max_ms: float) -> bytes | None:
    """16-bit PCM WAV decoded here, at most ``max_ms`` of it; None for anything else (ffmpeg's job).

    Pure CPU work: under gevent run it off the loop (streams.offload.run_blocking).
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    import wave

    try:
        with wave.open(io.BytesIO(data)) as reader:
            source_rate, channels = reader.getframerate(), reader.getnchannels()
            check_plausible(source_rate, channels)
            if reader.getsampwidth() != SAMPLE_WIDTH:
                return None
            pcm = reader.readframes(min(reader.getnframes(), int(source_rate * max_ms / 1000)))
    except (wave.Error, EOFError):
        return None  # a WAV flavour the wave module does not read (float, ADPCM…): ffmpeg does
    if channels == 2:
        pcm = audioop.tomono(pcm, SAMPLE_WIDTH, 0.5, 0.5)
    return bounded(resample(pcm, source_rate, rate), rate, max_ms)


def bounded(pcm: bytes, rate: int, max_ms: float) -> bytes:
    """At most ``max_ms`` of L16 at ``rate`` (whole samples)."""
    return pcm[: int(rate * max_ms / 1000) * SAMPLE_WIDTH]


def to_l16(data: bytes, rate: int, source_format: str | None = None, max_ms: float = 600_000) -> bytes:
    """Decode any audio ffmpeg reads (wav, mp3, ogg…) to L16 mono at ``rate``, at most ``max_ms`` of it.

    16-bit PCM WAV is decoded here, without ffmpeg; anything else goes through
    the ffmpeg binary (Aptfile, make), fed through a pipe. Under gevent call this
    from a greenlet, not the thread pool: gevent watches child processes only
    from its main loop. Implausible formats are AudioFormatError.
    """
    pcm = wav_to_l16(data, rate, max_ms)
    return pcm if pcm is not None else ffmpeg_decode(data, rate, source_format, max_ms=max_ms)


def ffmpeg_decode(
    data: bytes, rate: int, source_format: str | None = None, timeout: float = 60, max_ms: float = 600_000
) -> bytes:
    """Decode through the ffmpeg binary, reading only the bytes we pipe in, at most ``max_ms`` out.

    ``-protocol_whitelist pipe`` means a playlist (HLS, m3u, concat…) or any
    other reference inside the file cannot make ffmpeg open a URL or a local
    file: the only thing it may read is its stdin. ``-t`` stops the output at
    ``max_ms``, whatever the input claims to hold.
    """
    import shutil
    import subprocess  # gevent's, under the service (monkey-patched)

    binary = shutil.which("ffmpeg")
    if binary is None:
        raise ValueError("ffmpeg is not installed")
    command = [binary, "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "pipe"]
    command += ["-f", source_format] if source_format else []
    command += ["-i", "pipe:0", "-vn", "-ac", "1", "-ar", str(rate), "-t", f"{max_ms / 1000:.3f}"]
    command += ["-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    done = subprocess.run(command, input=data, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise ValueError("ffmpeg could not decode the file")
    return bounded(done.stdout, rate, max_ms)


def wav_bytes(pcm: bytes, rate: int, channels: int = 1) -> bytes:
    """Wrap L16 PCM in a WAV container."""
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def interleave(left: bytes, right: bytes) -> bytes:
    """Two mono L16 legs into one stereo stream (the shorter one padded with silence)."""
    length = max(len(left), len(right))
    left = left.ljust(length, b"\x00")
    right = right.ljust(length, b"\x00")
    stereo = audioop.tostereo(left, SAMPLE_WIDTH, 1, 0)
    return audioop.add(stereo, audioop.tostereo(right, SAMPLE_WIDTH, 0, 1), SAMPLE_WIDTH)
