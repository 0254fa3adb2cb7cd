"""The recording a ``call.ended`` webhook links: ``/recordings/<call id>.wav?exp=…&sig=…``.

The signed, expiring URL is the only credential (app/piopiy/signing.py
``recording_url``): a CRM can fetch the WAV without the API key, until it
expires. A wrong or expired signature is a 403 that does not say whether the
call exists.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

from app.api.presenter import call_or_404, recording_response
from app.errors import APIError
from app.piopiy.signing import verify_recording

bp = Blueprint("recordings", __name__)


class Forbidden(APIError):
    status, code = 403, "forbidden"


@bp.get("/recordings/<call_id>.wav")
def recording(call_id: str):  # type: ignore[no-untyped-def]
    reason = verify_recording(
        current_app.config["SECRET_KEY"], call_id, request.args.get("exp"), request.args.get("sig")
    )
    if reason is not None:
        raise Forbidden(f"This recording link is not valid: {reason}.")
    return recording_response(call_or_404(call_id))
