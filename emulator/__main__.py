"""python -m emulator {call,load,serve}: the Piopiy platform on 127.0.0.1.

    python -m emulator call --service http://127.0.0.1:5000 --token T --agent demo-ko --script caller.yaml
    python -m emulator load --calls 50 --seconds 60 --service … --token … --script caller.yaml
    python -m emulator serve --port 5100 --service … --token … --script callee.yaml

`call` prints the call's JSON report; `load` prints a summary and writes every
report to --out; `serve` plays Piopiy's REST API for outbound calls.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import yaml  # noqa: E402

from .call import CallOptions, EmulatedCall  # noqa: E402
from .platform import PlatformState, serve  # noqa: E402
from .script import Script, load_script, parse_script  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def agent_number(name: str, agents_dir: Path) -> str:
    """The first number of an agent file, or a number no agent has (the default agent answers)."""
    for path in agents_dir.glob("*.y*ml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if data.get("name") == name:
            numbers = data.get("numbers") or []
            return str(numbers[0]) if numbers else "919999999999"
    raise SystemExit(f"no agent named {name!r} in {agents_dir}")


def build_script(args: argparse.Namespace) -> Script:
    script = load_script(args.script) if args.script else parse_script({"steps": [{"listen": 3}], "max_seconds": 30})
    if getattr(args, "agent", None):
        script.to_number = agent_number(args.agent, Path(args.agents_dir))
    if getattr(args, "to", None):
        script.to_number = args.to
    if getattr(args, "seconds", None):
        script.max_seconds = float(args.seconds)
        script.repeat = True
    return script


def options(args: argparse.Namespace) -> CallOptions:
    return CallOptions(
        service_url=args.service.rstrip("/"),
        token=args.token,
        out_dir=Path(args.out) if args.out else None,
        form_body=args.form,
        cdr=not args.no_cdr,
        cdr_repeat=args.cdr_repeat,
    )


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarise(reports: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
    latencies = [ms for r in reports for ms in r["reply_latency_ms"]]
    barge = [b["latency_ms"] for r in reports for b in r["barge_ins"] if b.get("latency_ms") is not None]
    return {
        "calls": len(reports),
        "failed": sum(1 for r in reports if r["errors"]),
        "elapsed_s": round(elapsed, 2),
        "frames_sent": sum(r["frames_sent"] for r in reports),
        "audio_messages_received": sum(r["audio_messages"] for r in reports),
        "max_send_lag_ms": max((r["max_send_lag_ms"] for r in reports), default=0),
        "reply_latency_ms": {
            "n": len(latencies),
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "mean": round(statistics.mean(latencies), 1) if latencies else None,
        },
        "barge_in_ms": {"n": len(barge), "p50": percentile(barge, 50), "p95": percentile(barge, 95)},
        "close_codes": sorted({(r["close"] or {}).get("code") or 0 for r in reports}),
        "errors": [e for r in reports for e in r["errors"]][:20],
        "call_ids": [r["call_id"] for r in reports],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("call", "load", "serve"):
        p = sub.add_parser(name)
        p.add_argument(
            "--service",
            default=os.environ.get("CALLSTREAM_URL", "http://127.0.0.1:5000"),
            help="the Callstream service's base URL",
        )
        p.add_argument("--token", default=os.environ.get("WEBHOOK_TOKEN", ""), help="WEBHOOK_TOKEN of the service")
        p.add_argument("--script", help="caller script (YAML/JSON)")
        p.add_argument("--out", help="folder for JSON reports and heard-audio WAVs")
        p.add_argument("--form", action="store_true", help="send webhooks form-encoded instead of JSON")
        p.add_argument("--no-cdr", action="store_true", help="do not POST CDR events after calls")
        p.add_argument("--cdr-repeat", type=int, default=1, help="POST each CDR this many times (idempotency)")
        p.add_argument("--agents-dir", default=str(ROOT / "agents"))
        p.add_argument("--agent", help="dial the first number of this agent")
        p.add_argument("--to", help="dial this number")
        p.add_argument("-v", "--verbose", action="store_true")
    sub.choices["load"].add_argument("--calls", type=int, default=10)
    sub.choices["load"].add_argument("--seconds", type=float, help="each call streams this long (script repeats)")
    sub.choices["load"].add_argument("--ramp", type=float, default=0.05, help="seconds between call starts")
    serve_parser = sub.choices["serve"]
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=5100)
    serve_parser.add_argument("--app-id", default=os.environ.get("PIOPIY_APP_ID", "4444444"))
    serve_parser.add_argument("--app-secret", default=os.environ.get("PIOPIY_APP_SECRET", "emulator-secret"))
    serve_parser.add_argument("--api-token", default=os.environ.get("PIOPIY_TOKEN", "emulator-token"))
    serve_parser.add_argument("--answer-delay", type=float, default=0.2)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s emulator %(levelname)s %(message)s"
    )

    script = build_script(args)
    if args.command == "call":
        report = EmulatedCall(script, options(args)).run_inbound()
        print(json.dumps(report, indent=2))
        return 1 if report["errors"] else 0
    if args.command == "load":
        started = time.monotonic()
        greenlets = []
        for _ in range(args.calls):
            greenlets.append(gevent.spawn(EmulatedCall(script, options(args)).run_inbound))
            gevent.sleep(args.ramp)
        gevent.joinall(greenlets)
        reports = [g.value for g in greenlets if g.value is not None]
        summary = summarise(reports, time.monotonic() - started)
        print(json.dumps(summary, indent=2))
        return 1 if summary["failed"] or len(reports) != args.calls else 0
    state = PlatformState(
        script=script,
        options=options(args),
        app_id=args.app_id,
        app_secret=args.app_secret,
        token=args.api_token,
        answer_delay=args.answer_delay,
    )
    try:
        serve(state, args.host, args.port)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
