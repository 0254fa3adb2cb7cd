"""The three commands: one call, many calls at once, and the platform's REST API for outbound calls."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import gevent

from emulator.dialling import build_script
from emulator.emulated_call import CallOptions, EmulatedCall
from emulator.platform import PlatformState, serve
from emulator.report import summarise
from emulator.script import prepare
from emulator.summary import summary_lines


def options(args: argparse.Namespace) -> CallOptions:
    return CallOptions(
        service_url=args.service.rstrip("/"),
        token=args.token,
        out_dir=Path(args.out) if args.out else None,
        form_body=args.form,
        cdr=not args.no_cdr,
        cdr_repeat=args.cdr_repeat,
        api_key=args.api_key,
        docs=args.docs,
        cdr_time_scale=args.cdr_time_scale,
        live_events=args.live_events,
        deflate=not getattr(args, "no_deflate", False),
        metadata=not getattr(args, "no_metadata", False),
        drop_at=getattr(args, "drop_at", None),
        redial_after=getattr(args, "redial_after", 0.8),
    )


def run_call(args: argparse.Namespace) -> int:
    """One inbound call. 0 when the script's expectations hold, 1 when not (the summary says why)."""
    script = build_script(args)
    report = EmulatedCall(script, options(args)).run_inbound()
    path = str(Path(args.out) / f"{report['platform_call_id']}.json") if args.out else None
    summary = "\n".join(summary_lines(report, path))
    if args.json:
        print(json.dumps(report, indent=2))
        print(summary, file=sys.stderr)
    else:
        print(summary)
    return 0 if report["checks"]["ok"] else 1


def run_load(args: argparse.Namespace) -> int:
    script = build_script(args)
    prepare(script)
    started = time.monotonic()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    greenlets = []
    for _ in range(args.calls):
        greenlets.append(gevent.spawn(EmulatedCall(script, options(args)).run_inbound))
        gevent.sleep(args.ramp)
    gevent.joinall(greenlets)
    reports = [g.value for g in greenlets if g.value is not None]
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    summary = summarise(reports, time.monotonic() - started, cpu_s)
    print(json.dumps(summary, indent=2))
    return 1 if summary["failed"] or len(reports) != args.calls else 0


def run_serve(args: argparse.Namespace) -> int:
    state = PlatformState(
        script=build_script(args),
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
