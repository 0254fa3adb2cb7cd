"""Run the Dockerfile's steps in a clean Debian root, without Docker: what `docker build` would do, here.

- ``FROM debian:bookworm-slim`` is a minbase bookworm root made by mmdebstrap from Debian's mirror (cached).
- ``ENV``, ``ARG``, ``WORKDIR`` and ``USER`` are kept as Docker keeps them; ``COPY`` copies the tracked files
  (what the build context holds after .dockerignore: no .venv, no models/); ``RUN`` runs ``/bin/sh -c`` in
  the root (bubblewrap, root's network for apt and pip), as root.
- Like Docker's layer cache, the root after the steps before ``COPY . .`` (the system packages and the
  requirements) is kept, keyed by those steps and the files they copy; each build starts from it through an
  overlay mount and runs the rest.
- The one departure: pip in a ``RUN`` looks first in the wheel cache the PaaS build test fills
  (``PIP_FIND_LINKS``, as a build with a local mirror would) and on PyPI for the rest (Debian's Python is
  3.11.2, which wants wheels a 3.11.7 build does not: redis needs async-timeout before 3.11.3).

The service is then started from the root as the image's ``USER`` with its ``CMD`` (bubblewrap, then
``setpriv`` to that user), and the image's ``HEALTHCHECK`` command can be run inside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.buildpack import CACHE, ROOT, copy_source

MIRROR = ["deb http://deb.debian.org/debian bookworm main", "deb http://deb.debian.org/debian bookworm-updates main"]
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
SECURITY = "deb http://deb.debian.org/debian-security bookworm-security main"


def missing_tools() -> list[str]:
    tools = [tool for tool in ("mmdebstrap", "bwrap", "mount") if shutil.which(tool) is None]
    return tools + ([] if os.geteuid() == 0 else ["root (mmdebstrap --mode=root, an overlay mount)"])


def instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions: (WORD, rest), continuation lines joined, comments dropped."""
    out, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        word, _, rest = (current + line).partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def base_root() -> Path:
    """A minbase Debian bookworm root: what debian:bookworm-slim is (cached)."""
    base = CACHE / "container" / "bookworm-minbase"
    if not base.is_dir():
        partial = base.with_name(base.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        command = ["mmdebstrap", "--variant=minbase", "--mode=root", "bookworm", str(partial), *MIRROR, SECURITY]
        subprocess.run(command, check=True, capture_output=True, timeout=900)
        partial.rename(base)
    return base


@dataclass
class Image:
    """What the steps so far have made: the root, and the image's settings."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = "root"
    cmd: list[str] = field(default_factory=list)
    healthcheck: str = ""
    wheels: Path | None = None
    log: list[str] = field(default_factory=list)

    def sandbox(self, command: list[str], env: dict[str, str], network_files: bool = False) -> list[str]:
        args = ["bwrap", "--bind", str(self.root), "/", "--dev", "/dev", "--proc", "/proc"]  # the root's own /tmp
        if network_files:  # this machine's DNS, and its CA bundle for pip (PIP_CERT): its TLS may be intercepted
            args += ["--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf", "--ro-bind", HOST_CA, "/run/host-ca.crt"]
        if self.wheels is not None:
            args += ["--ro-bind", str(self.wheels), "/tmp/wheels"]
        args += ["--chdir", self.workdir, "--die-with-parent", "--clearenv"]
        for key, value in env.items():
            args += ["--setenv", key, value]
        return [*args, *command]

    def step(self, word: str, rest: str, execute: bool = True) -> None:
        """One instruction; with ``execute`` False only the settings change (the root comes from the cache)."""
        if word == "ENV":
            self.env.update(part.split("=", 1) for part in shlex.split(rest))
        elif word == "ARG":
            name, _, default = rest.partition("=")
            self.args[name] = default
        elif word == "WORKDIR":
            self.workdir = rest
            (self.root / rest.lstrip("/")).mkdir(parents=True, exist_ok=True)
        elif word == "USER":
            self.user = rest
        elif word == "CMD":
            self.cmd = json.loads(rest)
        elif word == "HEALTHCHECK":
            self.healthcheck = rest.split(" CMD ", 1)[1]
        elif word == "COPY" and execute:
            self.copy(*shlex.split(rest))
        elif word == "RUN" and execute:
            self.run(rest)

    def copy(self, source: str, dest: str) -> None:
        target = self.root / self.workdir.lstrip("/") / dest
        if source == ".":
            copy_source(target)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / source, target / Path(source).name)

    def run(self, command: str) -> None:
        pip = {"PIP_FIND_LINKS": "/tmp/wheels"} if self.wheels else {}  # first choice; PyPI for the rest
        pip["PIP_CERT"] = "/run/host-ca.crt"
        env = {**self.args, **self.env, **pip}
        done = subprocess.run(
            self.sandbox(["/bin/sh", "-c", command], env, network_files=True),
            capture_output=True, text=True, timeout=1200,
        )  # fmt: skip
        self.log.append(f"RUN {command[:80]}: {done.returncode}\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
        assert done.returncode == 0, self.log[-1]

    def as_user(self, command: list[str]) -> list[str]:
        return ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--init-groups", "--", *command]


def layer_key(steps: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for word, rest in steps:
        digest.update(f"{word} {rest}\n".encode())
        if word == "COPY":
            for name in shlex.split(rest)[:-1]:
                digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def build(folder: Path, wheels: Path) -> Image:
    """The Dockerfile built into ``folder/root`` (an overlay over the cached dependency layer); mount it."""
    steps = instructions((ROOT / "Dockerfile").read_text())
    assert steps[0] == ("FROM", "debian:bookworm-slim"), steps[0]
    split = steps.index(("COPY", ". ."))
    deps = CACHE / "container" / f"deps-{layer_key(steps[:split])}"
    if not deps.is_dir():
        partial = deps.with_name(deps.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(["cp", "-a", str(base_root()), str(partial)], check=True)
        image = Image(partial, wheels=wheels)
        for word, rest in steps[1:split]:
            image.step(word, rest)
        partial.rename(deps)
    for name in ("upper", "work", "root"):
        (folder / name).mkdir()
    lower = f"lowerdir={deps},upperdir={folder / 'upper'},workdir={folder / 'work'}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", lower, str(folder / "root")], check=True)
    image = Image(folder / "root", wheels=wheels)
    for word, rest in steps[1:split]:
        image.step(word, rest, execute=False)
    for word, rest in steps[split:]:
        image.step(word, rest)
    return image


def unmount(image: Image) -> None:
    subprocess.run(["umount", "--lazy", str(image.root)], check=False)
