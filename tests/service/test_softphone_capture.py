"""The softphone's capture worklet (static/capture-worklet.js) low-passes before it decimates (#23.7).

In headless Chromium, an OfflineAudioContext at 48 kHz (what a browser that
refuses the call's rate gives) renders a tone through the worklet to 8 kHz
frames; numpy's FFT checks the frames. The softphone's old capture (every 6th
sample of the ScriptProcessorNode's input) folded a 6 kHz tone to 2 kHz at full
level. The whole softphone call, worklet and all, is tests/service/test_browser.py.
"""

from __future__ import annotations

import functools
import math
import shutil
from http.server import SimpleHTTPRequestHandler

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.support.processes import http_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")
playwright = pytest.importorskip("playwright.sync_api")

RENDER = """async ({url, freq}) => {
  const ctx = new OfflineAudioContext(1, 48000, 48000);
  await ctx.audioWorklet.addModule(url);
  const tone = ctx.createOscillator(); tone.frequency.value = freq;
  const half = ctx.createGain(); half.gain.value = 0.5;
  const node = new AudioWorkletNode(ctx, "callstream-capture", {processorOptions: {targetRate: 8000}});
  const frames = [];
  node.port.onmessage = (e) => frames.push(Array.from(new Int16Array(e.data)));
  tone.connect(half).connect(node); node.connect(ctx.destination); tone.start();
  await ctx.startRendering();
  await new Promise((done) => setTimeout(done, 300));
  return frames;
}"""


def level_db(samples: np.ndarray, rate: int, freq: float) -> float:
    window = np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(samples / 32768.0 * window)) / (window.sum() / 2)
    bin_ = round(freq * len(samples) / rate)
    return 20 * math.log10(max(spectrum[bin_ - 2 : bin_ + 3].max(), 1e-12))


def test_the_worklet_keeps_a_6khz_tone_out_of_an_8khz_call() -> None:
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(ROOT / "static"))
    with http_server(handler) as server, playwright.sync_playwright() as p:
        base = f"http://127.0.0.1:{server.server_address[1]}"  # a secure context: worklets need one
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{base}/favicon.svg")
            worklet = f"{base}/capture-worklet.js"
            heard = {freq: page.evaluate(RENDER, {"url": worklet, "freq": freq}) for freq in (1000, 6000)}
        finally:
            browser.close()
    for frames in heard.values():
        assert frames and all(len(f) == 160 for f in frames)  # 20 ms at 8 kHz
        assert len(frames) >= 45  # about a second
    band = np.concatenate([np.array(f, float) for f in heard[1000]])[400:]
    folded = np.concatenate([np.array(f, float) for f in heard[6000]])[400:]
    assert abs(level_db(band, 8000, 1000) - 20 * math.log10(0.5)) < 1  # the band passes
    assert level_db(folded, 8000, 2000) < -50  # 6 kHz would fold to 2 kHz; the low-pass keeps it out
