"""The turn-taking models every call shares: Silero VAD and Smart Turn, loaded on first use.

The files come from ``scripts/get_turn_models.py`` (``make setup``) into
``models/turn/`` (``TURN_MODELS_DIR``); nothing is fetched at run time. A call
whose agent asks for a missing model falls back to the energy VAD and the
silence rule, and says so on its timeline; ``/healthz`` lists the gap.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .smart_turn import SmartTurn
from .turns import TurnRule
from .vad import EnergyVad, SileroModel, SileroVad, Vad

T = TypeVar("T")
SILERO_FILE = "silero_vad.onnx"
SMART_FILE = "smart-turn-v3.2-cpu.onnx"


def needs(rule: TurnRule) -> list[str]:
    """The models ``rule`` uses: "silero", "smart", both or none."""
    return (["silero"] if rule.vad == "silero" else []) + (["smart"] if rule.end == "smart" else [])


class TurnModels:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._silero: SileroModel | None = None
        self._smart: SmartTurn | None = None
        self.errors: dict[str, str] = {}  # "silero"/"smart" -> why its file would not load (for /healthz)

    def has(self, what: str) -> bool:
        """``what`` is "silero" or "smart"."""
        return (self.folder / (SILERO_FILE if what == "silero" else SMART_FILE)).is_file()

    def missing_for(self, rule: TurnRule) -> list[str]:
        """The models ``rule`` needs that are not installed."""
        return [what for what in needs(rule) if not self.has(what)]

    def silero(self) -> SileroModel:
        """Blocking on first use (loading the session): call it off the loop."""
        if self._silero is None:  # two racing loads make two sessions; one is kept, both work
            self._silero = self._load("silero", SileroModel, SILERO_FILE)
        return self._silero

    def smart(self) -> SmartTurn:
        """Blocking on first use (loading the session): call it off the loop."""
        if self._smart is None:
            self._smart = self._load("smart", SmartTurn, SMART_FILE)
        return self._smart

    def _load(self, what: str, kind: Callable[[Path], T], file: str) -> T:
        try:
            loaded = kind(self.folder / file)
        except Exception as exc:
            self.errors[what] = f"{file}: {str(exc)[:200]}"
            raise
        self.errors.pop(what, None)
        return loaded

    def vad(self, rule: TurnRule, rate: int, energy_threshold: int) -> Vad:
        """A fresh per-call VAD for ``rule`` (its state is the call's own); Silero's quiet floor is the energy one."""
        if rule.vad == "silero":
            return SileroVad(self.silero(), rate, floor=energy_threshold)
        return EnergyVad(energy_threshold)
