"""The baseline for the answer-webhook benchmark: a bare Flask view returning the same JSON."""

from gevent import monkey

monkey.patch_all()

from flask import Flask, jsonify  # noqa: E402

app = Flask(__name__)

PCMO = [
    {
        "action": "stream",
        "ws_url": "wss://callstream.example.test/stream/0123456789abcdef0123456789abcdef"
        "?exp=1893456000&sig=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "listen_mode": "caller",
        "voice_quality": "8000",
        "stream_on_answer": True,
    }
]


@app.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify({"status": "ok"})


@app.post("/webhooks/piopiy/answer")
def answer():  # type: ignore[no-untyped-def]
    return jsonify(PCMO)
