"""``callstream``: the console script of the installed package (pyproject.toml).

    callstream serve [gunicorn options]   the service: gunicorn with gunicorn.conf.py (PORT, WEB_CONCURRENCY, …), a
                                          worker per core (and a private redis-server) unless configured
    callstream call [emulator options]    a call placed by the emulator (python -m emulator call)
    callstream migrate [options]          the database schema to its newest version (python -m app.storage.migrate)
    callstream bench [options]            the benchmarks (python -m bench; they need a checkout's models)

Each command replaces this process with the module it names (``exec``): gunicorn gets the platform's
signals itself (SIGTERM drains calls), and nothing here imports the emulator or the benchmarks. A
``.env`` in the working directory is read first when present; a variable already set wins.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from app.config import FILES, ROOT, load_env_file

USAGE = __doc__.split("\n\n")[1]
MODULES = {"call": ["emulator", "call"], "migrate": ["app.storage.migrate"], "bench": ["bench"]}


def serve_command(args: Sequence[str] = ()) -> list[str]:
    """The launcher (app/runtime/launcher.py): gunicorn, on every core of this machine by default."""
    return [sys.executable, "-m", "app.runtime.launcher", *args]


def gunicorn_command(args: Sequence[str] = ()) -> list[str]:
    """gunicorn with the shipped gunicorn.conf.py and the WSGI app, from a checkout or an installed package."""
    command = [sys.executable, "-m", "gunicorn", "-c", str(FILES / "gunicorn.conf.py")]
    if FILES == ROOT:  # a checkout: wsgi.py sits at its root
        return [*command, "--pythonpath", str(ROOT), *args, "wsgi:app"]
    return [*command, *args, "app.bundled.wsgi:app"]


def command_for(argv: Sequence[str]) -> list[str] | None:
    """The process ``callstream ARGV`` becomes, or None when ARGV names no command."""
    if not argv:
        return None
    name, rest = argv[0], list(argv[1:])
    if name == "serve":
        return serve_command(rest)
    if name in MODULES:
        return [sys.executable, "-m", *MODULES[name], *rest]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    command = command_for(argv)
    if command is None:
        print(f"usage:\n{USAGE}", file=sys.stderr)
        return 2
    load_env_file()
    os.execv(command[0], command)
    return 0  # not reached: exec replaced this process
