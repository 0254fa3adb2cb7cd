"""Download and unpack a vosk model into models/ (stdlib only: runs in any build step).

    python scripts/get_model.py [URL] [--dest models] [--if-missing]

Default: the small English model (about 40 MB). With --if-missing nothing is
downloaded when models/ already holds a model. Exit status 0 on success, 1 when
the download fails (no internet, say), with a message saying what to do.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

DEFAULT_URL = "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip"


def has_model(folder: Path) -> bool:
    return folder.is_dir() and any((child / "am").is_dir() and (child / "conf").is_dir() for child in folder.iterdir())


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
    dest.mkdir(parents=True, exist_ok=True)
    print(f"downloading {args.url} …")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "model.zip"
            with urllib.request.urlopen(args.url, timeout=args.timeout) as response, archive.open("wb") as out:
                shutil.copyfileobj(response, out)
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(dest)
    except (OSError, zipfile.BadZipFile) as exc:
        print(
            f"could not fetch the model ({exc}). The service still runs, without speech recognition; "
            f"download a model from https://alphacephei.com/vosk/models into {dest} or set VOSK_MODEL_PATH.",
            file=sys.stderr,
        )
        return 1
    print(f"model unpacked into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
