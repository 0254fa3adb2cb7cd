"""The turn-taking models every call shares: Silero VAD and Smart Turn, loaded on first use.

The files come from ``scripts/get_turn_models.py`` (``make setup``) into
``models/turn/`` (``TURN_MODELS_DIR``); nothing is fetched at run time. A call
whose agent asks for a missing model falls back to the energy VAD and the
silence rule, and says so on its timeline; ``/healthz`` lists the gap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from streams.offload import run_blocking
from streams.turns.noise import NoiseFilter, NoiseUnavailable, filter_for
from streams.turns.rules import TurnDetector, TurnRule
from streams.turns.smart_turn import SmartTurn
from streams.turns.vad import EnergyVad, SileroModel, SileroVad, Vad

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


Judge = Callable[[bytes, int], float]


def detector_for(
    rule: TurnRule,
    models: TurnModels | None,
    rate: int,
    energy_threshold: int,
    fallback: Callable[[dict[str, Any]], None],
    log: logging.Logger | logging.LoggerAdapter,  # type: ignore[type-arg]
) -> tuple[TurnDetector, Judge | None]:
    """A call's turn detector for ``rule`` and, for ``turn.end: smart``, its judge (loads run off the loop).

    Without the rule's models, or with a model file that will not load, the call gets the energy VAD and the
    silence rule and ``fallback`` is told why: that agent's calls go on, no other is touched. The agent's noise
    filter (``rule.noise``) is the call's own either way.
    """
    missing = needs(rule) if models is None else models.missing_for(rule)
    plain = TurnRule(hangover_ms=rule.hangover_ms, noise=rule.noise)
    noise = _noise_filter(rule, rate, log)
    if models is None or missing or not needs(rule):
        if missing:
            log.error("turn models %s are not installed (make setup): energy VAD and silence rule", missing)
            fallback({"missing": missing})
            rule = plain
        return TurnDetector(rate, rule, EnergyVad(energy_threshold), noise=noise), None
    try:
        vad = run_blocking(models.vad, rule, rate, energy_threshold)
        judge = run_blocking(models.smart).probability if rule.end == "smart" else None
    except Exception as exc:  # noqa: BLE001 - a model file that will not load: this agent falls back
        log.exception("the turn models failed to load: energy VAD and silence rule")
        fallback({"error": str(exc)[:200]})
        return TurnDetector(rate, plain, EnergyVad(energy_threshold), noise=noise), None
    return TurnDetector(rate, rule, vad, noise=noise), judge


def _noise_filter(
    rule: TurnRule,
    rate: int,
    log: logging.Logger | logging.LoggerAdapter,  # type: ignore[type-arg]
) -> NoiseFilter | None:
    """The call's noise filter. Its library was checked when the agent file was read (an agent asking for a
    missing one is not loaded), so this fails only if the library broke since: the call goes on unfiltered."""
    try:
        return filter_for(rule.noise, rate)
    except NoiseUnavailable as exc:
        log.error("%s: this call hears the caller unfiltered", exc)
        return None
