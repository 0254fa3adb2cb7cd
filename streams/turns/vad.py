"""Is this frame speech? Two answers: the energy VAD and Silero VAD (ONNX, one per call's state).

Both take 20 ms L16 frames at the stream's rate and keep their own per-call
state; ``TurnDetector`` decides turns from their yes/no. Silero's session is
shared by every call (onnxruntime sessions are safe to share); its recurrent
state and the 64-sample context are per call, in ``SileroVad``.

Silero runs inline in the reader greenlet: one 32 ms window costs ~0.1 ms back
to back and ~0.5 ms on a live call (cold caches between frames), less than a
hop to the thread pool and back would cost; frames under the energy floor skip
the model altogether (see ``SileroVad._quiet``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from streams.audio import Resampler, duration_ms, rms

QUIET_RESET_MS = 300


class Vad(Protocol):
    name: str

    def is_speech(self, pcm: bytes) -> bool: ...


class EnergyVad:
    """Speech is a level over a fixed floor and three times the running noise level."""

    name = "energy"

    def __init__(self, threshold: int = 500) -> None:
        self.threshold = threshold
        self.noise = 0.0

    def is_speech(self, pcm: bytes) -> bool:
        level = rms(pcm)
        if level >= max(self.threshold, 3 * self.noise):
            return True
        self.noise = level if self.noise == 0 else 0.95 * self.noise + 0.05 * level  # learn slowly
        return False


class SileroModel:
    """The Silero VAD v5 ONNX session (shared); 8 kHz uses 256-sample windows, 16 kHz 512."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.size_mb = path.stat().st_size / 1e6

    def run(self, window: np.ndarray, state: np.ndarray, rate: int) -> tuple[float, np.ndarray]:
        """Speech probability of one window (context + samples, float32 in [-1, 1]) and the next state."""
        out, state = self.session.run(None, {"input": window[None, :], "state": state, "sr": np.array(rate, np.int64)})
        return float(out[0, 0]), state


class SileroVad:
    """One call's Silero VAD: speech starts at ``threshold`` and ends below ``off`` (or under ``floor`` RMS)."""

    name = "silero"

    def __init__(
        self, model: SileroModel, rate: int, threshold: float = 0.5, off: float = 0.35, floor: int = 0
    ) -> None:
        self.model = model
        self.stream_rate = rate
        self.rate = 8000 if rate == 8000 else 16000  # 32 kHz is resampled to 16 kHz
        self.resampler = Resampler(rate, self.rate)  # frame by frame, its filter's state kept (#23.7)
        self.window = 256 if self.rate == 8000 else 512
        self.context_size = 32 if self.rate == 8000 else 64
        self.threshold, self.off, self.floor = threshold, off, floor
        self.probability = 0.0
        self.speaking = False
        self.windows = 0
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros(self.context_size, np.float32)
        self._pending = np.zeros(0, np.float32)
        self._quiet_ms = 0.0

    def is_speech(self, pcm: bytes) -> bool:
        if self.stream_rate != self.rate:
            pcm = self.resampler(pcm)
        if self.floor and rms(pcm) < self.floor:
            return self._quiet(duration_ms(pcm, self.rate))
        self._quiet_ms = 0.0
        samples = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0
        self._pending = np.concatenate((self._pending, samples))
        while len(self._pending) >= self.window:
            chunk, self._pending = self._pending[: self.window], self._pending[self.window :]
            window = np.concatenate((self._context, chunk))
            self.probability, self._state = self.model.run(window, self._state, self.rate)
            self._context = chunk[-self.context_size :]
            self.windows += 1
            if self.probability >= self.threshold:
                self.speaking = True
            elif self.probability < self.off:
                self.speaking = False
        return self.speaking

    def _quiet(self, length_ms: float) -> bool:
        """A frame under the floor is no speech, and the model is not run on it.

        Silero's probability decays for ~100 ms after the last word; the floor ends speech at once. Skipping
        quiet frames also saves most of the model's cost: on a live call each window costs ~0.5 ms of CPU (cold
        caches between 20 ms frames), and callers are quiet most of the time. Silero's last verdict stands
        through a short gap (a word that goes on is speech from its first loud frame); after ``QUIET_RESET_MS``
        the next sound meets a fresh state, as at the start of a call.
        """
        self._quiet_ms += length_ms
        self._pending = self._pending[:0]
        if self._quiet_ms >= QUIET_RESET_MS:
            self.speaking = False
            self.probability = 0.0
            self._state = np.zeros((2, 1, 128), np.float32)
            self._context = np.zeros(self.context_size, np.float32)
        return False
