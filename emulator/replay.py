"""``python -m emulator replay <capture>``: post a capture's webhooks to a local service, in the order received.

A capture (``PLATFORM_CAPTURE``, app/capture.py) holds what the platform really
sent; replayed against a local service it reproduces a user's bug report. The
token (never captured) is the local service's ``--token``; redacted values stay
``[redacted]``. Prints a JSON summary: each webhook's path and our answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import requests


def webhooks(capture: Path) -> list[dict[str, Any]]:
    """The webhook records of a capture file, or of every ``*.jsonl`` in a capture directory, oldest first."""
    files = sorted(capture.glob("*.jsonl")) if capture.is_dir() else [capture]
    records = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("kind") == "webhook":
                records.append(record)
    return sorted(records, key=lambda r: r.get("at") or 0)


def replay_one(service: str, token: str, record: dict[str, Any], timeout: float) -> dict[str, Any]:
    url = f"{service}{record['path']}"
    if "json" in record:
        response = requests.post(url, params={"token": token}, json=record["json"], timeout=timeout)
    else:
        headers = {"Content-Type": record.get("content_type") or "application/x-www-form-urlencoded"}
        response = requests.post(url, params={"token": token}, data=record.get("text", ""), headers=headers,
                                 timeout=timeout)  # fmt: skip
    try:
        answer: Any = response.json()
    except ValueError:
        answer = response.text[:300]
    return {"path": record["path"], "status": response.status_code, "answer": answer}


def run_replay(args: argparse.Namespace) -> int:
    """0 when every webhook was answered 2xx, 1 when not."""
    capture = Path(args.capture)
    if not capture.exists():
        raise OSError(f"no capture at {capture}")
    records = webhooks(capture)
    results = [replay_one(args.service.rstrip("/"), args.token, record, 10.0) for record in records]
    print(json.dumps({"capture": str(capture), "sent": len(results), "results": results}, indent=2))
    failed = [r for r in results if not 200 <= r["status"] < 300]
    if failed:
        print(f"python -m emulator replay: {len(failed)} of {len(results)} not accepted", file=sys.stderr)
    return 1 if failed else 0
