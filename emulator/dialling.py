"""Which number to dial: ``--to``, or the first of ``--agent``'s ``numbers`` in the agents folder.

The service picks the agent by the dialled number and gives every other number
to its DEFAULT_AGENT, so an agent without ``numbers`` cannot be reached by
dialling at all: rather than dial some number and quietly get another agent,
the emulator refuses and says how to fix the agent file.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import yaml

from emulator.script import Script, load_script, parse_script

ROOT = Path(__file__).resolve().parent.parent


class DialError(ValueError):
    """The command line cannot place the call it asks for; the message says what to change."""


def default_agents_dir() -> str:
    """``AGENTS_DIR`` (what the service reads), else the repository's ``agents/`` (or an installed package's)."""
    bundled = ROOT / "app" / "bundled" / "agents"  # pyproject.toml ships the root's files there
    return os.environ.get("AGENTS_DIR") or str(bundled if bundled.is_dir() else ROOT / "agents")


def agent_number(name: str, agents_dir: Path) -> str:
    """The first number of the agent called ``name``; DialError when there is none to dial."""
    if not agents_dir.is_dir():
        raise DialError(f"no agents folder {agents_dir} (set AGENTS_DIR or pass --agents-dir)")
    names = []
    for path in sorted(agents_dir.glob("*.y*ml")) + sorted(agents_dir.glob("*.json")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            continue  # the service skips broken files too
        if not isinstance(data, dict):
            continue
        names.append(str(data.get("name")))
        if data.get("name") != name:
            continue
        numbers = data.get("numbers") or []
        if not numbers:
            raise DialError(
                f"agent {name!r} ({path}) has no numbers, so no dialled number reaches it: the service gives "
                f'unknown numbers to its DEFAULT_AGENT. Add a line like\n    numbers: ["918000000042"]\n'
                f"to {path} (any number no other agent uses), restart the service, and call again; "
                f"or dial the default agent with --to <number>."
            )
        return str(numbers[0])
    known = ", ".join(n for n in names if n != "None") or "none"
    raise DialError(f"no agent named {name!r} in {agents_dir} (agents there: {known})")


def build_script(args: argparse.Namespace) -> Script:
    """The caller script with the command line's number, agent and duration applied."""
    script = load_script(args.script) if args.script else parse_script({"steps": [{"listen": 3}], "max_seconds": 30})
    if getattr(args, "to", None):
        script.to_number = args.to  # wins over --agent, which then only names the agent in the report
    elif getattr(args, "agent", None):
        script.to_number = agent_number(args.agent, Path(args.agents_dir))
    script.agent = getattr(args, "agent", None) or script.agent
    if getattr(args, "seconds", None):
        script.max_seconds = float(args.seconds)
        script.repeat = True
    return script
