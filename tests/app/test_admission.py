"""Admission by measured headroom (#21.1): a node whose loop really stalls answers busy, then takes calls again.

The stall is real: a greenlet blocks the gevent hub (an unpatched ``time.sleep``, as a runaway C call would),
the loop watch (streams/loopwatch.py) measures the lag, and the node's own load sampler decides.
"""

from __future__ import annotations

import time

import gevent
import pytest

from app.webhooks.views import place_call
from streams import loopwatch
from streams.shedding import SHEDDING
from tests.app.test_webhooks import answer
from tests.conftest import API_KEY

BUSY = "All our lines are busy"


def _stall(seconds: float, times: int) -> None:
    for _ in range(times):
        time.sleep(seconds)  # blocks the whole loop (time is not patched here): every greenlet waits
        gevent.sleep(0)


def _until(condition, limit: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        gevent.sleep(0.05)
    return condition()


@pytest.fixture
def watched(make_app):  # type: ignore[no-untyped-def]
    app = make_app(VOICE_ENABLED=0, ADMIT_HIGH=0.8, ADMIT_WINDOW=1.0, ADMIT_LOOP_LAG_MS=60.0, ADMIT_CPU=50.0)
    load = app.extensions["callstream"].load
    load.tick = 0.2
    watchers = [gevent.spawn(loopwatch.watch_loop, 0.02)]
    load.start()
    gevent.sleep(0.5)
    yield app, load
    load.stop()
    gevent.killall(watchers, timeout=1)
    SHEDDING.reset()  # the loop watch fed the process-wide shedding level too: no other test inherits it


def test_a_stalled_loop_answers_busy_and_a_recovered_one_takes_calls_again(watched) -> None:
    app, load = watched
    client = app.test_client()
    assert not load.refusing and client.get("/readyz").status_code == 200
    first = answer(client, body={"from": "919876543210", "to": "919111111111", "cmiuuid": "adm-1"}).get_json()
    assert first[-1]["action"] == "stream"

    stall = gevent.spawn(_stall, 0.3, 3)
    assert _until(lambda: load.refusing, 3.0), load.describe()
    busy = answer(client, body={"from": "919876543210", "to": "919111111111", "cmiuuid": "adm-2"}).get_json()
    assert BUSY in busy[0]["text"] and busy[-1]["action"] == "hangup"  # the existing busy PCMO
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["reason"] == "overloaded"
    assert ready.get_json()["load"]["load"] >= 0.8 and ready.get_json()["load"]["refused"] == {"load": 1}
    health = client.get("/healthz").get_json()
    assert health["status"] == "overloaded" and health["load"]["loop_lag_ms"] > 60
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {API_KEY}"}).get_data(as_text=True)
    assert 'callstream_calls_refused_total{reason="load"} 1.0' in metrics and "callstream_taking_calls 0.0" in metrics

    stall.join(timeout=5)
    assert _until(lambda: not load.refusing, 4.0), load.describe()  # below ADMIT_LOW once the stall left the window
    again = answer(client, body={"from": "919876543210", "to": "919111111111", "cmiuuid": "adm-3"}).get_json()
    assert again[-1]["action"] == "stream" and client.get("/readyz").status_code == 200


def test_the_warm_ups_own_stall_is_not_load_the_first_call_is_taken(watched) -> None:
    """Loading the models stalled the loop ~150 ms; the node said ready, then answered its first call busy."""
    from app.live.warmup import warm

    app, load = watched
    services = app.extensions["callstream"]
    services.warming = True
    _stall(0.3, 1)  # the warm-up's stall (a model loading on the loop's thread)
    assert _until(lambda: load.refusing, 3.0), load.describe()
    warm(services)  # its end: the window starts afresh
    assert not load.refusing and load.figures.load == 0.0
    first = answer(app.test_client(), body={"from": "919876543210", "to": "919111111111", "cmiuuid": "warm-1"})
    assert first.get_json()[-1]["action"] == "stream" and load.refused == {}


def test_max_calls_stays_a_hard_cap_and_is_unset_by_default(make_app, harness) -> None:
    svc = make_app(VOICE_ENABLED=0).extensions["callstream"]
    assert svc.calls.max_calls is None and not svc.calls.full()
    capped = make_app(VOICE_ENABLED=0, MAX_CALLS=1).extensions["callstream"]
    capped.calls.add(harness(call_id="cap-1").call)
    assert place_call(capped) is None and capped.load.refused == {"max_calls": 1}
