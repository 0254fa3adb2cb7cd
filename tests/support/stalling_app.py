"""The real service plus one test-only route that blocks its event loop, as a runaway C call would.

``POST /test/stall?seconds=S`` (at most 5) sleeps with the unpatched ``time.sleep``: every greenlet of
the worker, every call's reader among them, waits that long. Used by tests/service/test_admission.py;
never part of the product (``service_process(config, app="tests.support.stalling_app:app")``).
"""

from gevent import monkey

from wsgi import app  # patches the standard library first, then builds the real app

_blocking_sleep = monkey.get_original("time", "sleep")


@app.post("/test/stall")
def stall():  # type: ignore[no-untyped-def]
    from flask import jsonify, request

    seconds = min(float(request.args.get("seconds", "1")), 5.0)
    _blocking_sleep(seconds)
    return jsonify({"stalled": seconds})
