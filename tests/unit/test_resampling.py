"""Resampling with a real anti-alias filter, and without clicks between frames (#23.7).

A spectrum check (numpy's FFT): a tone above the new Nyquist frequency must not
fold back into the band. audioop.ratecv, which streams/audio.py used before,
interpolated linearly with no filter: it folded a 6 kHz tone at 22.05 kHz into an
8 kHz call at -8 dB, a 5 kHz tone at 16 kHz at -6 dB (these tests fail on it).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from streams.audio import resample, tone


def level_db(pcm: bytes, rate: int, freq: float) -> float:
    """The level of ``freq`` in ``pcm``, in dB relative to a full-scale sine (Hann window, nearest bin ±2)."""
    samples = np.frombuffer(pcm, np.int16).astype(np.float64) / 32768.0
    window = np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(samples * window)) / (window.sum() / 2)
    bin_ = round(freq * len(samples) / rate)
    return 20 * math.log10(max(spectrum[max(bin_ - 2, 0) : bin_ + 3].max(), 1e-12))


@pytest.mark.parametrize(("source", "freq"), [(22050, 6000), (22050, 9000), (16000, 5000), (32000, 7000)])
def test_a_tone_above_4khz_does_not_fold_into_an_8khz_call(source: int, freq: int) -> None:
    line = tone(source, 1000, freq, amplitude=0.5)  # espeak-ng's rate, a wideband stream's
    out = resample(line, source, 8000)
    alias = abs(8000 - freq) if freq < 8000 else freq - 8000  # where a 4-8 kHz tone folds to in 0-4 kHz
    assert level_db(line, source, freq) > -7  # the tone is there before
    assert level_db(out, 8000, alias) < -60, "the tone folded into the call's band"


def test_the_band_passes_unchanged() -> None:
    out = resample(tone(22050, 1000, 1000, amplitude=0.5), 22050, 8000)
    assert abs(level_db(out, 8000, 1000) - 20 * math.log10(0.5)) < 0.5
    assert len(out) == 8000 * 2


def test_a_streamed_sine_has_no_click_at_frame_edges_and_matches_the_whole_buffer() -> None:
    from streams.audio import Resampler

    for source, target in ((32000, 16000), (32000, 8000), (16000, 32000), (8000, 16000)):
        samples = np.frombuffer(tone(source, 2000, 440, amplitude=0.5), np.int16)
        frame = source // 50
        resampler = Resampler(source, target)
        streamed = b"".join(resampler(samples[i : i + frame].tobytes()) for i in range(0, len(samples), frame))
        out = np.frombuffer(streamed, np.int16).astype(int)
        assert len(out) == len(samples) * target // source
        # A 440 Hz sine at half scale moves at most 2π·440/rate·16384 per sample; a frame edge with a fresh state
        # (audioop.ratecv from zero at every frame) jumped by thousands.
        bound = 2 * math.pi * 440 / target * 16384 * 1.05 + 2
        lag = resampler.lookahead * target // source  # the stream lags by its look-ahead, nothing else
        assert np.abs(np.diff(out[lag + 50 :])).max() < bound, (source, target)  # past the tone's own onset
        whole = np.frombuffer(resample(samples.tobytes(), source, target), np.int16).astype(int)
        assert np.abs(out[lag + 200 :] - whole[200 : len(out) - lag]).max() <= 3


def test_frames_that_do_not_divide_evenly_carry_over() -> None:
    from streams.audio import Resampler

    resampler = Resampler(22050, 8000)  # 441 input samples make 160 output samples
    out = b"".join(resampler(b"\x01\x00" * 100) for _ in range(441))
    assert len(out) == 100 * 441 * 8000 // 22050 * 2
    assert resampler(b"") == b"" and Resampler(8000, 8000)(b"\x01\x00") == b"\x01\x00"
