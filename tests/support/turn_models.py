"""The turn-taking models (models/turn/) for the tests that need them: there, or a skip that says why.

A test skips only when ``scripts/get_turn_models.py`` recorded that its download failed
(``models/turn/UNAVAILABLE``: no PyPI at set-up); a folder that is merely empty is a
set-up fault, and the test fails saying how to fix it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.turns.models import TurnModels
from streams.turns.rules import TurnRule
from tests.conftest import ROOT

FOLDER = ROOT / "models" / "turn"
UNAVAILABLE = "UNAVAILABLE"  # written by scripts/get_turn_models.py when its download failed


def installed_turn_models(folder: Path = FOLDER) -> TurnModels:
    """Silero VAD and Smart Turn from ``folder``; skips the test if their download failed at set-up."""
    found = TurnModels(folder)
    missing = found.missing_for(TurnRule(vad="silero", end="smart"))
    if missing and (folder / UNAVAILABLE).is_file():
        pytest.skip(f"turn models {missing} not installed: {(folder / UNAVAILABLE).read_text().strip()}")
    assert not missing, f"turn models {missing} missing from {folder}: run `make setup-dev`"
    return found
