"""The emulated Piopiy REST API (v2 and v3 shapes of PROTOCOL.md section 3).

A call request is checked the way the platform would (credentials, body shape,
PCMO), accepted, "answered" after ``answer_delay`` seconds, and its PCMO run by
an EmulatedCall whose caller script is the emulator's. Reports are kept and
served under ``/_emulator/…`` for tests and tools.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from flask import Flask, jsonify, request
from marshmallow import ValidationError

from actions import ActionValidationError, validate_pcmo
from actions.pipeline import HangupRequestSchema, TransferRequestSchema, validate_pipeline
from emulator import documented
from emulator.emulated_call import CallOptions, EmulatedCall
from emulator.script import Script

log = logging.getLogger(__name__)


@dataclass
class PlatformState:
    script: Script
    options: CallOptions
    app_id: str = "4444444"
    app_secret: str = "emulator-secret"
    token: str = "emulator-token"
    answer_delay: float = 0.2
    requests: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, EmulatedCall] = field(default_factory=dict)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)


def _same(a: Any, b: str) -> bool:
    return isinstance(a, (str, int)) and hmac.compare_digest(str(a).encode(), b.encode())


def create_platform(state: PlatformState) -> Flask:
    app = Flask("emulator")
    _v2_routes(app, state)
    _v3_routes(app, state)
    _inspection_routes(app, state)
    return app


def _record(state: PlatformState) -> dict[str, Any]:
    """Keep the request for /_emulator/requests; its JSON body (or {})."""
    body = request.get_json(silent=True)
    entry = {"path": request.path, "body": body, "authorization": bool(request.headers.get("Authorization"))}
    state.requests.append(entry)
    return body if isinstance(body, dict) else {}


def _start_call(state: PlatformState, pcmo: list[dict[str, Any]], to: str, extra: dict[str, Any]) -> str:
    """Accept the call now; the callee "answers" after ``answer_delay`` and the PCMO runs."""
    call_id = str(uuid.uuid4())
    script = Script(**{**state.script.__dict__, "from_number": to})
    call = EmulatedCall(script, state.options, direction="outbound", platform_id=call_id, extra_params=extra)
    state.calls[call_id] = call

    def run() -> None:
        gevent.sleep(state.answer_delay)
        state.reports[call_id] = call.run_outbound(pcmo)

    gevent.spawn(run)
    return call_id


def _v2_routes(app: Flask, state: PlatformState) -> None:
    def v2_make_call() -> Any:
        body = _record(state)
        if not (_same(body.get("appid"), state.app_id) and _same(body.get("secret"), state.app_secret)):
            return jsonify({"code": 401, "msg": "Invalid appid or secret"}), 401
        errors = {key: ["Missing."] for key in ("from", "to", "pcmo") if key not in body}
        if errors:
            return jsonify({"code": 400, "msg": "Invalid request", "errors": errors}), 400
        try:
            pcmo = validate_pcmo(body["pcmo"])
        except ActionValidationError as exc:
            return jsonify({"code": 400, "msg": "Invalid pcmo", "errors": exc.messages}), 400
        call_id = _start_call(state, pcmo, str(body["to"]), body.get("extra_params") or {})
        placed = {"status": "progress", "request_id": call_id}  # the documented success (PCMO outbound call page)
        return jsonify({"data": placed, **placed, "code": 200})

    app.post("/v2/ind_pcmo_make_call")(v2_make_call)
    _cdr_pull_routes(app, state)
    app.add_url_rule("/v2/global_pcmo_make_call", "global", v2_make_call, methods=["POST"])

    @app.post("/v1/call/action")
    def legacy_hold() -> Any:
        body = _record(state)
        if body.get("action") not in ("hold", "unhold", "holdToggle"):
            return jsonify({"code": 400, "msg": "action must be hold, unhold or holdToggle"}), 400
        return jsonify({"code": 200, "msg": body["action"]})


def _cdr_pull_routes(app: Flask, state: PlatformState) -> None:
    """TeleCMI's documented CDR pull API: one leg by cmiuuid, every leg by request_id (404 until a call is over)."""

    def pulled(body: dict[str, Any], key: str) -> tuple[Any, int]:
        if not (_same(body.get("appid"), state.app_id) and _same(body.get("secret"), state.app_secret)):
            return jsonify({"code": 404, "msg": "Invalid app id or secret"}), 404
        wanted = str(body.get(key) or "")
        found = [(cid, call) for cid, call in state.calls.items() if wanted in (cid, documented.leg_id(call))]
        report = state.reports.get(found[0][0]) if found else None
        if report is None:
            return jsonify({"code": 404, "msg": f"{key} not found"}), 404
        call = found[0][1]
        cdr = {"duration": round(report.get("duration") or 0), "balance": "878.900000", "rate": "0.450000",
               "from": call.script.from_number, "to": call.script.to_number, "time": int(call.wall0 * 1000),
               "leg": "a", "direction": call.direction, "status": "answered"}  # fmt: skip
        return jsonify({"cdr": cdr, "code": 200} if key == "cmiuuid" else {"count": 1, "cdr": [cdr], "code": 200}), 200

    @app.post("/v1/piopiy/cmiuuid_cdr")
    def cmiuuid_cdr() -> Any:
        return pulled(_record(state), "cmiuuid")

    @app.post("/v1/piopiy/requestid_cdr")
    def requestid_cdr() -> Any:
        return pulled(_record(state), "request_id")


def _v3_routes(app: Flask, state: PlatformState) -> None:
    def bearer_ok() -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and _same(header[7:], state.token)

    @app.post("/voice/pcmo/call")
    def v3_call() -> Any:
        body = _record(state)
        if not bearer_ok():
            return jsonify({"error": "unauthorized"}), 401
        pipeline = body.get("pipeline")
        streams = [a for a in pipeline or [] if isinstance(a, dict) and a.get("action") == "stream"]
        rest = [a for a in pipeline or [] if a not in streams]
        try:
            validate_pcmo(streams) if streams else None
            validate_pipeline(rest) if rest else None
        except ActionValidationError as exc:
            return jsonify({"error": "invalid pipeline", "errors": exc.messages}), 400
        for key in ("caller_id", "to_number", "app_id"):
            if not isinstance(body.get(key), str):
                return jsonify({"error": f"{key} is required"}), 400
        call_id = _start_call(state, pipeline, body["to_number"], body.get("variables") or {})
        return jsonify({"data": {"call_id": call_id, "status": "initiated"}})

    @app.post("/voice/pcmo/transfer")
    def v3_transfer() -> Any:
        body = _record(state)
        try:
            TransferRequestSchema().load(body)
        except ValidationError as exc:
            return jsonify({"error": "invalid", "errors": exc.messages}), 400
        return jsonify({"data": {"call_id": body["call_id"], "status": "transferred"}})

    @app.post("/voice/call/hangup")
    def v3_hangup() -> Any:
        body = _record(state)
        try:
            HangupRequestSchema().load(body)
        except ValidationError as exc:
            return jsonify({"error": "invalid", "errors": exc.messages}), 400
        return jsonify({"data": {"call_id": body["call_id"], "status": "hangup"}})


def _inspection_routes(app: Flask, state: PlatformState) -> None:
    """/_emulator/…: what the platform was asked and how its calls went, for tests and tools."""

    @app.get("/_emulator/requests")
    def list_requests() -> Any:
        return jsonify(state.requests)

    @app.get("/_emulator/calls")
    def list_calls() -> Any:
        return jsonify(
            {cid: {"state": call.state, "report": state.reports.get(cid)} for cid, call in state.calls.items()}
        )

    @app.get("/_emulator/calls/<call_id>")
    def get_call(call_id: str) -> Any:
        call = state.calls.get(call_id)
        if call is None:
            return jsonify({"error": "no such call"}), 404
        return jsonify({"state": call.state, "report": state.reports.get(call_id)})

    @app.get("/_emulator/health")
    def health() -> Any:
        return jsonify({"status": "ok", "calls": len(state.calls)})


def serve(state: PlatformState, host: str, port: int, out_dir: Path | None = None) -> None:
    from gevent.pywsgi import WSGIServer

    server = WSGIServer((host, port), create_platform(state), log=None)
    log.info("emulated Piopiy REST API on http://%s:%d", host, port)
    server.serve_forever()
