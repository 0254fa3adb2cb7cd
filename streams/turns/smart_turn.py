"""Is the caller's utterance complete? Pipecat's Smart Turn v3.2 (ONNX) on Whisper-style log-mel features.

The model reads the last 8 s of a turn at 16 kHz (shorter turns are padded
with zeros in front, so the end of speech is always at the end of the input)
as 80 log-mel bins x 800 frames, and returns the probability that the speaker
has finished. The features are computed here with numpy, the way Whisper
defines them: the waveform normalised to zero mean and unit variance, a 400-point
STFT with a periodic Hann window every 160 samples (centred, reflect-padded),
the power spectrum through 80 Slaney mel filters, log10, floored 8 below the
peak, then scaled by (x + 4) / 4.

``SmartTurn.probability`` blocks (~50-60 ms on one thread): callers run it in
gevent's thread pool (onnxruntime and numpy's FFT release the GIL).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from streams.audio import resample

RATE = 16000
SECONDS = 8
N_FFT = 400
HOP = 160
N_MELS = 80
FRAMES = RATE * SECONDS // HOP  # 800


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, np.float64)
    linear = 3.0 * hz / 200.0
    log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, np.float64)
    linear = 200.0 * mel / 3.0
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log, linear)


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(N_FFT // 2 + 1, N_MELS) triangular filters from 0 to 8 kHz, each scaled to unit area (Slaney)."""
    bins = np.linspace(0, RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(RATE / 2), N_MELS + 2))
    lower = (bins[:, None] - edges[None, :-2]) / np.diff(edges)[None, :-1]
    upper = (edges[None, 2:] - bins[:, None]) / np.diff(edges)[None, 1:]
    filters = np.maximum(0.0, np.minimum(lower, upper))
    return filters * (2.0 / (edges[2:] - edges[:-2]))[None, :]


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(80, 800) float32 features of the last 8 s of ``audio`` (float, 16 kHz), zero-padded in front."""
    size = RATE * SECONDS
    audio = np.asarray(audio, np.float32)[-size:]
    audio = np.pad(audio, (size - len(audio), 0))
    audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
    padded = np.pad(audio.astype(np.float64), N_FFT // 2, mode="reflect")
    starts = np.arange(0, len(padded) - N_FFT + 1, HOP)
    window = np.hanning(N_FFT + 1)[:-1]
    frames = padded[starts[:, None] + np.arange(N_FFT)[None, :]] * window
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (801, 201)
    mel = np.log10(np.maximum(power @ mel_filters(), 1e-10)).T[:, :-1]  # (80, 800): the last frame dropped
    mel = np.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).astype(np.float32)


def pcm_to_float(pcm: bytes, rate: int) -> np.ndarray:
    """L16 at ``rate`` -> float32 samples at 16 kHz."""
    return np.frombuffer(resample(pcm, rate, RATE), np.int16).astype(np.float32) / 32768.0


class SmartTurn:
    """The Smart Turn v3.2 session (shared by all calls; every call is independent of the last)."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.size_mb = path.stat().st_size / 1e6

    def probability(self, pcm: bytes, rate: int) -> float:
        """P(the utterance in ``pcm`` is complete); blocking: run it in the thread pool."""
        features = log_mel(pcm_to_float(pcm, rate))[None, :, :]
        (out,) = self.session.run(None, {"input_features": features})
        return float(out.reshape(-1)[0])
