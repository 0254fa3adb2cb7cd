"""gunicorn's access log never shows a query, not even one the client smuggled into the path (review D5)."""

from __future__ import annotations

import datetime
import runpy
from types import SimpleNamespace

from gunicorn.config import Config

from tests.conftest import ROOT


def test_a_query_encoded_into_the_path_is_redacted_in_the_access_log() -> None:
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    log = conf["RedactingLogger"](Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/stream/abc%3Fexp=1%26sig=SECRETAAC1",
        "PATH_INFO": "/stream/abc?exp=1&sig=SECRETAAC1",  # what gunicorn decodes %3F into
        "QUERY_STRING": "token=TOKEN2",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    resp = SimpleNamespace(status="200 OK", sent=10, headers=[])
    atoms = log.atoms(resp, SimpleNamespace(headers=[]), environ, datetime.timedelta(milliseconds=3))
    line = conf["access_log_format"] % atoms  # what gunicorn writes, in our format
    assert "SECRETAAC1" not in line and "TOKEN2" not in line
    assert line.startswith('127.0.0.1 "GET /stream/abc?[redacted] HTTP/1.1" 200'), line
    for key in ("U", "r", "q"):  # every field a format might name
        assert "SECRET" not in atoms[key] and "TOKEN" not in atoms[key], (key, atoms[key])
