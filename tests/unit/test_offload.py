"""Blocking work in gevent's thread pool: its exceptions reach the caller, and only the caller (review D3)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
from gevent import monkey; monkey.patch_all()
from streams.offload import run_blocking

def refuse(rate):
    raise ValueError(f"a sample rate of {rate} Hz is not audio we play")

try:
    run_blocking(refuse, 1)
except ValueError as exc:
    print("caught:", exc)
print("sum:", run_blocking(lambda a, b: a + b, 2, 3))
"""


def test_an_exception_in_the_pool_is_raised_in_the_caller_and_printed_nowhere() -> None:
    """gevent's pool printed a full traceback to stderr for every refused file, outside logging (its JSON format,
    its redaction), and anyone holding an API key could repeat it."""
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["caught: a sample rate of 1 Hz is not audio we play", "sum: 5"]
    assert "Traceback" not in done.stderr, done.stderr
