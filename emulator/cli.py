"""The command line of `python -m emulator`: its parser, and main() dispatching to verbs.py."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from emulator.dialling import DialError, default_agents_dir
from emulator.script import ScriptError
from emulator.verbs import run_call, run_load, run_serve

DESCRIPTION = """python -m emulator {call,load,serve}: the Piopiy platform on 127.0.0.1.

    python -m emulator call --service http://127.0.0.1:5000 --token T --agent demo-ko --script caller.yaml
    python -m emulator load --calls 50 --seconds 60 --service … --token … --script caller.yaml
    python -m emulator serve --port 5100 --service … --token … --script callee.yaml

`call` prints a short summary of the call (--json: the JSON report instead, the
summary going to stderr) and exits 1 when the script's expectations fail;
`load` prints a JSON summary and writes every report to --out; `serve` plays
Piopiy's REST API for outbound calls. Exit status 2: the command line is wrong
(an unknown agent, an agent without numbers, a broken script). See docs/emulator.md.
"""


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--service",
        default=os.environ.get("CALLSTREAM_URL", "http://127.0.0.1:5000"),
        help="the Callstream service's base URL",
    )
    p.add_argument("--token", default=os.environ.get("WEBHOOK_TOKEN", ""), help="WEBHOOK_TOKEN of the service")
    p.add_argument(
        "--api-key",
        default=os.environ.get("API_KEY", ""),
        help="API_KEY of the service: the report then adds what the service heard and the bot said",
    )
    p.add_argument("--script", help="caller script (YAML/JSON, see docs/emulator.md)")
    p.add_argument("--out", help="folder for JSON reports and heard-audio WAVs")
    p.add_argument("--form", action="store_true", help="send webhooks form-encoded instead of JSON")
    p.add_argument("--no-cdr", action="store_true", help="do not POST CDR events after calls")
    p.add_argument("--cdr-repeat", type=int, default=1, help="POST each CDR this many times (idempotency)")
    p.add_argument("--no-deflate", action="store_true", help="do not offer permessage-deflate on the stream socket")
    p.add_argument("--no-metadata", action="store_true", help="send no metadata text frame before the audio")
    p.add_argument(
        "--drop-at", type=float, help="lose the stream socket (no close frame) this many seconds in, then redial it"
    )
    p.add_argument("--redial-after", type=float, default=0.8, help="seconds between the drop and the redial")
    p.add_argument(
        "--agents-dir",
        default=default_agents_dir(),
        help="agent files to look --agent up in (default: $AGENTS_DIR, else agents/)",
    )
    p.add_argument("--agent", help="dial the first of this agent's numbers")
    p.add_argument("--to", help="dial this number (wins over --agent)")
    p.add_argument("-v", "--verbose", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("call", "load", "serve"):
        add_common(sub.add_parser(name))
    for name in ("call", "load"):
        sub.choices[name].add_argument(
            "--json", action="store_true", help="print the JSON report on stdout (`load` always does)"
        )
    load = sub.choices["load"]
    load.add_argument("--calls", type=int, default=10)
    load.add_argument("--seconds", type=float, help="each call streams this long (script repeats)")
    load.add_argument("--ramp", type=float, default=0.05, help="seconds between call starts")
    serve = sub.choices["serve"]
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5100)
    serve.add_argument("--app-id", default=os.environ.get("PIOPIY_APP_ID", "4444444"))
    serve.add_argument("--app-secret", default=os.environ.get("PIOPIY_APP_SECRET", "emulator-secret"))
    serve.add_argument("--api-token", default=os.environ.get("PIOPIY_TOKEN", "emulator-token"))
    serve.add_argument("--answer-delay", type=float, default=0.2)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s emulator %(levelname)s %(message)s"
    )
    command = {"call": run_call, "load": run_load, "serve": run_serve}[args.command]
    try:
        return command(args)
    except (DialError, ScriptError, OSError) as exc:
        print(f"python -m emulator {args.command}: {exc}", file=sys.stderr)
        return 2
