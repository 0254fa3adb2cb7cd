"""Generated text frames on the stream socket, over a real socket to a running service (#25.6).

A platform text frame is read by the same JSON rule as a webhook body (streams/jsontext.py). Whatever
text arrives (JSON with lone-surrogate escapes, NaN/Infinity, huge numbers, deep nesting, any Unicode,
metadata first or not), the call goes on, and its API answer, its dashboard page and its dashboard data
stay readable, strictly valid JSON.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from emulator.service import running_service
from tests.conftest import base_config
from tests.support.streaming import HEADERS, call_id_of, stream_url

FRAME = b"\x01\x00" * 160
EXAMPLES = int(os.environ.get("CALLSTREAM_FUZZ_EXAMPLES") or 400) // 2
PER_CALL = 40  # frames of text on one socket before the next call
PASSWORD = "fuzz-password-1"

POISON = ['"\\ud800"', '"\\udfff x"', "NaN", "Infinity", "-Infinity", "1e999", "-1e999"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20)
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)


@st.composite
def poisoned(draw: Any) -> str:
    """A JSON event with one value swapped for something JSON's rule refuses (or allows, by chance)."""
    event = {"event": draw(st.sampled_from(["media", "stream_connected", "x"])), "data": draw(values)}
    text = json.dumps(event)
    return text.replace('"data": ', f'"data": {draw(st.sampled_from(POISON))}, "was": ', 1)


TEXT = st.one_of(
    poisoned(),
    values.map(json.dumps),
    st.text(max_size=200),
    st.integers(min_value=60, max_value=3000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(min_value=60, max_value=3000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
)


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("fuzz-stream")
    config = base_config(
        tmp, "http://127.0.0.1:1", PUBLIC_URL="auto", VOICE_ENABLED=0, DASHBOARD_USER="ops", DASHBOARD_PASSWORD=PASSWORD
    )
    with running_service(config) as url:
        yield url


def strict(text: str) -> Any:
    """JSON as a strict reader takes it: NaN and Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in the answer")

    return json.loads(text, parse_constant=refuse)


def signed_in(service: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{service}/login", timeout=5).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    session.post(f"{service}/login", data={"username": "ops", "password": PASSWORD, "csrf_token": token}, timeout=5)
    return session


@pytest.mark.timeout(300)
def test_no_text_frame_poisons_a_call(service: str) -> None:
    calls: list[str] = []
    open_socket: list[ClientConnection] = []

    def socket_for_next_frame() -> ClientConnection:
        if open_socket and len(calls) and open_socket[0].sent < PER_CALL:  # type: ignore[attr-defined]
            return open_socket[0]
        if open_socket:
            open_socket.pop().close()
        url = stream_url(service)
        calls.append(call_id_of(url))
        ws = connect(url, open_timeout=5, close_timeout=2, legacy=True)
        ws.sent = 0  # type: ignore[attr-defined]
        open_socket.append(ws)
        return ws

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(text=TEXT, audio_first=st.booleans())
    def send(text: str, audio_first: bool) -> None:
        ws = socket_for_next_frame()
        if audio_first:
            ws.send(FRAME)
        ws.send(text)
        ws.sent += 1  # type: ignore[attr-defined]

    send()
    for ws in open_socket:
        ws.close()
    session = signed_in(service)
    assert len(calls) >= EXAMPLES // PER_CALL
    for call_id in calls:
        answer = requests.get(f"{service}/api/v1/calls/{call_id}", headers=HEADERS, timeout=5)
        assert answer.status_code == 200, call_id
        call = strict(answer.text)
        assert call["end_reason"] in (None, "socket_closed"), call["end_reason"]
        page = session.get(f"{service}/dashboard/calls/{call_id}", timeout=5)
        assert page.status_code == 200 and call_id in page.text
        data = session.get(f"{service}/dashboard/api/calls/{call_id}", timeout=5)
        assert data.status_code == 200
        strict(data.text)
    print(f"\nstream text frames: {EXAMPLES} generated over {len(calls)} calls")
