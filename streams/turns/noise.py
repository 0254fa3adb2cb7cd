"""The agent's noise filter (``noise: rnnoise``): RNNoise on the caller's audio before the VAD (#23.4).

RNNoise is a small recurrent network trained to keep speech and drop stationary
and non-stationary noise; it works on 10 ms frames of 48 kHz audio. Its library
(with the model compiled in) comes from the ``pyrnnoise`` wheel, an optional
dependency (``pip install 'callstream[noise]'``). Only the wheel's
``librnnoise.so`` is loaded, through ctypes, once per process: importing the
``pyrnnoise`` package runs its ``__init__``, which pulls in audiolab, av and
matplotlib for file tools we do not use.

Each call has its own ``NoiseFilter`` (RNNoise's state, and the soxr resamplers
up to 48 kHz and back, with their state kept between frames). Out comes as
much audio as went in, ~26 ms later (8 ms of soxr look-ahead each way, RNNoise's
10 ms frame).
"""

from __future__ import annotations

import ctypes
import importlib.util
import weakref
from functools import cache
from pathlib import Path

import numpy as np

from streams.audio import Resampler

FILTERS = ("none", "rnnoise")
RNNOISE_RATE = 48000
PACKAGE = "pyrnnoise==0.4.5"
INSTALL_HINT = f"pip install 'callstream[noise]' (or {PACKAGE})"


class NoiseUnavailable(RuntimeError):
    """The filter's library is not installed or will not load; the message says how to fix it."""


@cache
def _library() -> ctypes.CDLL:
    """``librnnoise.so`` from the pyrnnoise wheel, without running the package's ``__init__``."""
    try:
        spec = importlib.util.find_spec("pyrnnoise")  # finds the folder; imports nothing
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        raise NoiseUnavailable(f"noise: rnnoise needs the pyrnnoise package, which is not installed: {INSTALL_HINT}")
    path = Path(folders[0]) / "librnnoise.so"
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise NoiseUnavailable(f"noise: rnnoise could not load {path.name} ({exc}): {INSTALL_HINT}") from None
    lib.rnnoise_create.argtypes = [ctypes.c_void_p]
    lib.rnnoise_create.restype = ctypes.c_void_p
    lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
    lib.rnnoise_destroy.restype = None
    lib.rnnoise_get_frame_size.restype = ctypes.c_int
    floats = ctypes.POINTER(ctypes.c_float)
    lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, floats, floats]
    lib.rnnoise_process_frame.restype = ctypes.c_float  # the frame's speech probability
    return lib


def unavailable(kind: str) -> str | None:
    """Why the filter ``kind`` cannot run on this machine, or None (also for "none" and unknown kinds)."""
    if kind != "rnnoise":
        return None
    try:
        _library()
    except NoiseUnavailable as exc:
        return str(exc)
    return None


class NoiseFilter:
    """One call's RNNoise: ``process`` takes L16 frames at the stream's rate and returns as many, denoised."""

    name = "rnnoise"

    def __init__(self, rate: int) -> None:
        self.lib = _library()
        self.rate = rate
        self.size = self.lib.rnnoise_get_frame_size()  # 480: 10 ms at 48 kHz
        self.up, self.down = Resampler(rate, RNNOISE_RATE), Resampler(RNNOISE_RATE, rate)
        self.probability = 0.0  # RNNoise's speech probability for the last 10 ms
        self.frames = 0
        self._state = self.lib.rnnoise_create(None)
        self._closer = weakref.finalize(self, self.lib.rnnoise_destroy, self._state)  # freed with the call
        self._in = np.zeros(self.size, np.float32)
        self._out = np.zeros(self.size, np.float32)
        self._in_ptr = self._in.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self._out_ptr = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self._pending = np.zeros(0, np.float32)  # 48 kHz samples short of a whole RNNoise frame
        self._owed = 0  # output bytes padded in front while frames were not whole (never for 20 ms frames)

    def process(self, pcm: bytes) -> bytes:
        """``pcm`` denoised: the same length, ~26 ms of delay; RNNoise reads int16-scaled floats."""
        if not pcm:
            return pcm
        high = np.frombuffer(self.up(pcm), np.int16).astype(np.float32)
        samples = np.concatenate((self._pending, high)) if len(self._pending) else high
        whole = len(samples) // self.size * self.size
        self._pending = samples[whole:]
        cleaned = np.empty(whole, np.float32)
        for start in range(0, whole, self.size):
            self._in[:] = samples[start : start + self.size]
            self.probability = self.lib.rnnoise_process_frame(self._state, self._out_ptr, self._in_ptr)
            cleaned[start : start + self.size] = self._out
        self.frames += whole // self.size
        out = self.down(np.clip(cleaned, -32768, 32767).astype(np.int16).tobytes()) if whole else b""
        return self._same_length(out, len(pcm))

    def _same_length(self, out: bytes, wanted: int) -> bytes:
        """Frames that are not whole 10 ms leave RNNoise's input short: pad in front now, drop as much later."""
        if self._owed and len(out) > wanted:
            drop = min(self._owed, len(out) - wanted)
            out, self._owed = out[drop:], self._owed - drop
        if len(out) < wanted:
            self._owed += wanted - len(out)
            out = b"\x00" * (wanted - len(out)) + out
        return out[-wanted:] if len(out) > wanted else out

    def close(self) -> None:
        """Free RNNoise's state now (it is freed anyway when the filter is collected)."""
        self._closer()


def filter_for(kind: str, rate: int) -> NoiseFilter | None:
    """A fresh per-call filter for the agent's ``noise`` setting; None for "none". NoiseUnavailable without it."""
    return NoiseFilter(rate) if kind == "rnnoise" else None
