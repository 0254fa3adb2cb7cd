"""The command line of `python -m emulator`: its parser, and main() dispatching to verbs.py."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from emulator.dialling import DialError, default_agents_dir
from emulator.documented import DOCS
from emulator.replay import run_replay
from emulator.script import ScriptError
from emulator.verbs import run_call, run_load, run_serve

DESCRIPTION = """python -m emulator {call,load,serve,replay}: the Piopiy platform on 127.0.0.1.

    WEBHOOK_TOKEN=… python -m emulator call --service http://127.0.0.1:5000 --agent demo-ko --script caller.yaml
    WEBHOOK_TOKEN=… python -m emulator load --calls 50 --seconds 60 --service … --script caller.yaml
    WEBHOOK_TOKEN=… python -m emulator serve --port 5100 --service … --script callee.yaml
    WEBHOOK_TOKEN=… python -m emulator replay capture.jsonl --service http://127.0.0.1:5000

Secrets (WEBHOOK_TOKEN, API_KEY, PIOPIY_APP_SECRET, PIOPIY_TOKEN) are read from the environment;
their options exist for tests, but a command line is visible to every user of the machine (ps).

`call` prints a short summary of the call (--json: the JSON report instead, the
summary going to stderr) and exits 1 when the script's expectations fail;
`load` prints a JSON summary and writes every report to --out; `serve` plays
Piopiy's REST API for outbound calls (and its CDR pull API); `replay` posts the
webhooks of a PLATFORM_CAPTURE file to a service (docs/platform.md). Exit status 2: the command line is wrong
(an unknown agent, an agent without numbers, a broken script). See docs/emulator.md.
"""


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--service",
        default=os.environ.get("CALLSTREAM_URL", "http://127.0.0.1:5000"),
        help="the Callstream service's base URL",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("WEBHOOK_TOKEN", ""),
        help="WEBHOOK_TOKEN of the service (default: $WEBHOOK_TOKEN; prefer it: a command line shows in ps)",
    )
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
        "--docs", choices=DOCS, default="global", help="webhook shapes: TeleCMI's global or India doc set, or legacy"
    )
    p.add_argument(
        "--cdr-time-scale",
        type=float,
        default=0.0,
        help="CDR deliveries follow the documented 0/5/15/30 min schedule times this (1: real time; 0: at once)",
    )
    p.add_argument("--live-events", action="store_true", help="also POST live answered/hangup events")
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
    replay = sub.add_parser("replay", help="post a PLATFORM_CAPTURE file's webhooks to a service")
    replay.add_argument("capture", help="a capture file (platform-capture-*.jsonl) or its directory")
    replay.add_argument("--service", default=os.environ.get("CALLSTREAM_URL", "http://127.0.0.1:5000"))
    replay.add_argument("--token", default=os.environ.get("WEBHOOK_TOKEN", ""), help="WEBHOOK_TOKEN of the service")
    replay.add_argument("-v", "--verbose", action="store_true")
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
    command = {"call": run_call, "load": run_load, "serve": run_serve, "replay": run_replay}[args.command]
    try:
        return command(args)
    except (DialError, ScriptError, OSError) as exc:
        print(f"python -m emulator {args.command}: {exc}", file=sys.stderr)
        return 2
