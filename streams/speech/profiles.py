"""vosk speed profiles (#21.5): how much decoding a model does.

A profile is set in the model's ``conf/model.conf``: ``accurate`` is the
model's own file; ``balanced`` (the default) computes the acoustic network 51
frames at a time instead of Kaldi's 20 (most of vosk's CPU is that network's
matrix products, and small chunks spend it copying), which changes no search
setting (the same words) and on this machine (AMD EPYC, 2 cores; ``python -m
bench vosk``) cut vosk's CPU per second of phrase-grammar audio by 27% and of
free speech by 6%; ``fast`` also narrows the search (beam 8, max-active 1500,
lattice beam 1): free speech 31% less than ``accurate``, its final result p95
78 ms instead of 93. Beams barely move a phrase grammar's cost. vosk reads its options only from the
model's folder, so a profile is a folder of links to the model's files with
its own ``conf/`` (a temporary folder, shared by the workers), loaded as a
model of its own: the default profile replaces the model, each other profile an
agent asks for (``stt_profile``) loads it once more (memory: the model again).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

# What each speed profile writes over the model's own conf/model.conf (Kaldi option names).
PROFILES: dict[str, dict[str, str]] = {
    "accurate": {},
    "balanced": {"frames-per-chunk": "51"},
    "fast": {"frames-per-chunk": "51", "beam": "8.0", "max-active": "1500", "lattice-beam": "1.0"},
}
DEFAULT_PROFILE = "balanced"


def profiled(path: Path, profile: str, root: Path | None = None) -> Path:
    """The folder vosk loads for ``path`` at ``profile``: ``path`` itself for ``accurate``, else a folder of
    links to its files with its own conf/ (made once, atomically, so workers starting together share it)."""
    overrides = PROFILES[profile]
    if not overrides:
        return path
    root = root or Path(tempfile.gettempdir()) / "callstream-vosk"
    digest = hashlib.sha1(f"{path.resolve()}|{sorted(overrides.items())}".encode()).hexdigest()[:12]
    target = root / f"{path.name}-{profile}-{digest}"
    if (target / "conf" / "model.conf").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
    try:
        for child in path.iterdir():
            if child.name != "conf":
                os.symlink(child.resolve(), staging / child.name)
        shutil.copytree(path / "conf", staging / "conf", symlinks=False)
        conf = staging / "conf" / "model.conf"
        kept = [
            line for line in (conf.read_text().splitlines() if conf.is_file() else [])
            if line.strip().lstrip("-").split("=", 1)[0] not in overrides
        ]  # fmt: skip
        conf.write_text("\n".join([*kept, *(f"--{key}={value}" for key, value in overrides.items())]) + "\n")
        os.rename(staging, target)  # a worker that lost the race finds the winner's folder
    except OSError:
        if not (target / "conf" / "model.conf").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
