"""Reading one environment variable: typed readers that fail with a message naming the variable.

``app/config.py`` names every setting; these say how a value is read (booleans, finite numbers, choices,
lists, rates such as ``10/minute``) and load a ``.env`` file at start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class ConfigError(RuntimeError):
    """The environment cannot run the service; the message says what to set."""


def env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def env_number(environ: Mapping[str, str], name: str, default: float, *, minimum: float = 0, cast: type = int) -> Any:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value):  # float("nan") and "inf" parse, and compare false with every bound
        raise ConfigError(f"{name} must be a finite number, not {raw!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {raw!r}")
    return value


def env_auto_number(environ: Mapping[str, str], name: str) -> int | None:
    """A whole number of at least 0, or None for ``auto`` (or unset): the service works it out from the machine."""
    if (environ.get(name) or "auto").strip().lower() == "auto":
        return None
    try:
        return env_number(environ, name, 0)
    except ConfigError:
        raise ConfigError(f"{name} must be auto or a whole number of at least 0, not {environ.get(name)!r}") from None


def env_choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (environ.get(name) or default).strip()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def env_list(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated names, trimmed and lower-cased; empty entries dropped."""
    return tuple(part.strip().lower() for part in (environ.get(name) or "").split(",") if part.strip())


def env_rising(environ: Mapping[str, str], name: str, default: str, count: int) -> tuple[float, ...]:
    """``count`` comma-separated numbers, each at least the one before; ``off`` for one is infinity (never)."""
    raw = (environ.get(name) or default).strip()
    try:
        values = tuple(math.inf if v.strip().lower() == "off" else float(v) for v in raw.split(","))
    except ValueError:
        values = ()
    if len(values) != count or list(values) != sorted(values) or any(math.isnan(v) or v < 0 for v in values):
        raise ConfigError(f"{name} must be {count} rising numbers (or off), comma-separated, not {raw!r}")
    return values


RATE_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}


def parse_rate(text: str) -> tuple[int, float] | None:
    """``"10/minute"`` -> (10, 60.0); ``"off"`` -> None (no limit). ValueError when unreadable."""
    value = text.strip().lower()
    if value in ("off", "none", "0"):
        return None
    count, _, period = value.partition("/")
    if not count.strip().isdigit() or int(count) < 1 or period.strip() not in RATE_PERIODS:
        raise ValueError(f"{text!r} is not a rate like 10/minute (per second, minute, hour or day) or off")
    return int(count), RATE_PERIODS[period.strip()]


def env_rate(environ: Mapping[str, str], name: str, default: str) -> str:
    raw = (environ.get(name) or default).strip()
    try:
        parse_rate(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return raw


def load_env_file(path: Path | None = None) -> None:
    """The cwd's ``.env`` into the environment, if there is one; a variable already set wins. At start only
    (gunicorn.conf.py, ``callstream``), never in ``load_config``: tests build apps from explicit settings."""
    from dotenv import load_dotenv

    load_dotenv(path or Path.cwd() / ".env", override=False)
