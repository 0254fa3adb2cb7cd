"""The Piopiy REST client: the service's one outbound HTTP edge.

Legacy v2 (app id + secret in the body, PROTOCOL.md section 3) or v3 (Bearer
token). ``budget.post`` retries 429/500/502/503/504 and connection/read
failures with exponential backoff (or the platform's Retry-After), as the SDK
does, but all within PIOPIY_TIMEOUT seconds in total. What is left after that
becomes PlatformBusy (a final 429 -> our 503 with Retry-After), PlatformRejected
(other 4xx -> our 422) or PlatformUnavailable (5xx, timeout, garbage -> our
502). Secrets never reach a log line: only the URL path, the status and the
time taken are logged.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError

from actions.pipeline import HangupRequestSchema, PcmoCallRequestSchema, TransferRequestSchema
from app.errors import PlatformBusy, PlatformNotConfigured, PlatformRejected, PlatformUnavailable
from app.piopiy import budget

log = logging.getLogger(__name__)

INDIAN_NUMBER = re.compile(r"^91[6789]\d{9}$")
# The most we ask our own clients to wait after the platform said 429.
MAX_RETRY_AFTER = 60


def _maybe_int(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def platform_call_id(answer: Any) -> str | None:
    """Find the platform's id for a call in its (undocumented) answer."""
    if not isinstance(answer, dict):
        return None
    for source in (answer, answer.get("data") if isinstance(answer.get("data"), dict) else {}):
        for key in ("call_id", "cmiuuid", "request_id", "uuid", "id"):
            if source.get(key):
                return str(source[key])
    return None


class PiopiyClient:
    def __init__(self, config: Mapping[str, Any], session: requests.Session | None = None) -> None:
        self.version: str = config["PIOPIY_API_VERSION"]
        self.base_url: str = config["PIOPIY_API_URL"]
        self.cdr_url: str = config.get("PIOPIY_CDR_URL") or self.base_url
        self.app_id: str = config["PIOPIY_APP_ID"]
        self.app_secret: str = config["PIOPIY_APP_SECRET"]
        self.token: str = config["PIOPIY_TOKEN"]
        self.timeout: float = config["PIOPIY_TIMEOUT"]
        self.budget = budget.Budget(
            seconds=float(config["PIOPIY_TIMEOUT"]),
            retries=int(config["PIOPIY_RETRIES"]),
            backoff=float(config["PIOPIY_BACKOFF"]),
        )
        self.session = session or requests.Session()

    def missing_settings(self) -> list[str]:
        """The credential settings the configured API version needs and does not have (empty: ready)."""
        needed = {"PIOPIY_APP_ID": self.app_id, "PIOPIY_APP_SECRET": self.app_secret}
        if self.version != "v2":
            needed = {"PIOPIY_TOKEN": self.token}
        return [name for name, value in needed.items() if not str(value or "").strip()]

    def require_settings(self) -> None:
        """Raise ``PlatformNotConfigured`` naming the missing credentials, before anything is sent or stored."""
        missing = self.missing_settings()
        if missing:
            raise PlatformNotConfigured(
                f"Outbound calls need {' and '.join(missing)} (PIOPIY_API_VERSION={self.version}); "
                "set them in the environment (see .env.example) and restart.",
                {"settings": missing},
            )

    # -- calls --------------------------------------------------------------------
    def make_call(
        self,
        *,
        to: str,
        caller_id: str,
        pcmo: list[dict[str, Any]],
        call_id: str,
        duration: int | None = None,
        timeout: int | None = None,
        loop: int | None = None,
        record: bool = False,
        variables: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Place an outbound call that runs ``pcmo``; returns the platform's answer."""
        tagged = {**(variables or {}), "callstream_id": call_id}
        if self.version == "v2":
            path = "/v2/ind_pcmo_make_call" if INDIAN_NUMBER.match(caller_id) else "/v2/global_pcmo_make_call"
            body: dict[str, Any] = {
                "appid": _maybe_int(self.app_id),
                "secret": self.app_secret,
                "from": int(caller_id),
                "to": int(to),
                "duration": duration or 5400,
                "extra_params": tagged,
                "pcmo": ([{"action": "record"}] if record else []) + pcmo,
            }
            if timeout is not None:
                body["timeout"] = timeout
            if loop is not None:
                body["loop"] = loop
            return _placed(self._post(path, body))
        options: dict[str, Any] = {}
        if duration is not None:
            options["max_duration_sec"] = duration
        if timeout is not None:
            options["ring_timeout_sec"] = timeout
        if record:
            options["record"] = True
        body = {"caller_id": caller_id, "to_number": to, "app_id": self.app_id, "pipeline": pcmo, "variables": tagged}
        if options:
            body["options"] = options
        self._check_v3(PcmoCallRequestSchema(), body, allow_stream=True)
        return self._post("/voice/pcmo/call", body)

    def transfer(self, platform_call_id: str, pipeline: list[dict[str, Any]]) -> dict[str, Any]:
        """v3 only: replace a live call's pipeline (a REST transfer)."""
        body = {"call_id": platform_call_id, "pipeline": pipeline}
        self._check_v3(TransferRequestSchema(), body)
        return self._post("/voice/pcmo/transfer", body)

    def hangup(
        self, platform_call_id: str, cause: str = "NORMAL_CLEARING", reason: str | None = None
    ) -> dict[str, Any]:
        """v3 only: end a call through REST."""
        body: dict[str, Any] = {"call_id": platform_call_id, "cause": cause}
        if reason:
            body["reason"] = reason
        self._check_v3(HangupRequestSchema(), body)
        return self._post("/voice/call/hangup", body)

    # -- CDR pull (documented: /v1/piopiy/cmiuuid_cdr and /v1/piopiy/requestid_cdr) -------
    def pull_cdrs(self, *, cmiuuid: str | None = None, request_id: str | None = None) -> list[dict[str, Any]]:
        """The platform's CDRs of one call leg (by ``cmiuuid``) or of every leg (by ``request_id``).

        ``[]`` when it has none yet (it answers 404). Other failures raise as ``_post`` does.
        """
        key, path = ("cmiuuid", "/v1/piopiy/cmiuuid_cdr") if cmiuuid else ("request_id", "/v1/piopiy/requestid_cdr")
        body = {"appid": _maybe_int(self.app_id), "secret": self.app_secret, key: cmiuuid or request_id}
        try:
            answer = self._post(path, body, base=self.cdr_url)
        except (PlatformRejected, PlatformUnavailable) as exc:
            if _not_found(exc):
                return []
            raise
        found = answer.get("cdr")
        items = found if isinstance(found, list) else [found]
        return [item for item in items if isinstance(item, dict)]

    # -- plumbing -----------------------------------------------------------------
    def _check_v3(self, schema: Any, body: dict[str, Any], *, allow_stream: bool = False) -> None:
        """Validate a v3 body before sending, by the v3 SDK's rules.

        The v3 vocabulary has no ``stream`` action, yet streaming to us is the
        point of an outbound call; so stream actions are checked by the legacy
        schema and the rest of the body by the v3 one.
        """
        from marshmallow import ValidationError

        from actions import validate_action

        checked = dict(body)
        if allow_stream and isinstance(body.get("pipeline"), list):
            streams = [a for a in body["pipeline"] if isinstance(a, dict) and a.get("action") == "stream"]
            for action in streams:
                validate_action(action)
            rest = [a for a in body["pipeline"] if a not in streams]
            checked["pipeline"] = rest or [{"action": "hangup"}]
        try:
            schema.load(checked)
        except ValidationError as exc:
            raise PlatformRejected("The request would be refused by the platform.", exc.messages) from None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.version == "v3":
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _post(self, path: str, body: dict[str, Any], base: str | None = None) -> dict[str, Any]:
        started = time.monotonic()
        url = f"{base or self.base_url}{path}"
        outcome = budget.post(self.session, url, self.budget, json=body, headers=self._headers())
        response = outcome.response
        if response is None:
            exc = outcome.error
            if exc is None or not _timed_out(exc):
                log.warning("piopiy POST %s failed: %s", path, type(exc).__name__)
                raise PlatformUnavailable(f"Could not reach the Piopiy API ({type(exc).__name__}).")
            log.warning("piopiy POST %s timed out after retries (%.1fs)", path, time.monotonic() - started)
            raise PlatformUnavailable("The Piopiy API did not answer in time.")
        log.info("piopiy POST %s -> %s in %.3fs", path, response.status_code, time.monotonic() - started)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if 200 <= response.status_code < 300:
            if not isinstance(payload, dict):
                raise PlatformUnavailable("The Piopiy API answered with something that is not a JSON object.")
            # The legacy API reports failures with HTTP 200 and a "code" (or "cmi_code") in the body,
            # e.g. {"code": 502, "status": "error", ...}: a failure, with the platform's message in our 502.
            code = _body_code(payload)
            if code == 429:
                raise _busy(outcome.retry_after)
            if code is not None and code >= 400:
                raise PlatformUnavailable(_message(payload, "failed"), {"platform": payload})
            return payload
        if response.status_code == 429:
            raise _busy(outcome.retry_after)
        if 400 <= response.status_code < 500:
            raise PlatformRejected(
                _message(payload) if isinstance(payload, dict) else "The Piopiy API refused the request.",
                {"platform": payload if isinstance(payload, dict) else {"status": response.status_code}},
            )
        raise PlatformUnavailable(f"The Piopiy API failed with HTTP {response.status_code} after retries.")


def _busy(retry_after: float | None) -> PlatformBusy:
    """A 429 that outlasted our budget: retryable, with the wait the platform asked for (capped)."""
    wait = math.ceil(min(max(retry_after or 1.0, 1.0), MAX_RETRY_AFTER))
    return PlatformBusy(
        "The Piopiy API is rate limiting us; try again later.",
        {"platform": {"status": 429, "retry_after": wait}},
        headers={"Retry-After": str(wait)},
    )


def _timed_out(exc: requests.RequestException) -> bool:
    """A timeout, also when urllib3's retries wrapped it in a MaxRetryError."""
    if isinstance(exc, requests.Timeout):
        return True
    first = exc.args[0] if exc.args else None
    # requests raises ConnectionError(ReadTimeoutError) when the body itself is late.
    reason = first if isinstance(first, ReadTimeoutError) else getattr(first, "reason", None)
    # NewConnectionError (refused, no route) subclasses ConnectTimeoutError in urllib3.
    return isinstance(reason, (ReadTimeoutError, ConnectTimeoutError)) and not isinstance(reason, NewConnectionError)


def _message(payload: dict[str, Any], what: str = "refused") -> str:
    for source in (payload, payload.get("data") if isinstance(payload.get("data"), dict) else {}):
        for key in ("error", "message", "msg", "reason"):
            if isinstance(source.get(key), str) and source[key]:
                return f"Piopiy {what} the request: {source[key][:300]}"
    return f"Piopiy {what} the request."


def _not_found(exc: PlatformRejected | PlatformUnavailable) -> bool:
    platform = exc.errors.get("platform") if isinstance(exc.errors, dict) else None
    return isinstance(platform, dict) and (_body_code(platform) == 404 or platform.get("status") == 404)


def _body_code(payload: dict[str, Any]) -> int | None:
    """The error code a 200 body carries (``code`` or ``cmi_code``, a number or digits), if any."""
    codes = []
    for key in ("code", "cmi_code"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 6:
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool):
            codes.append(value)
    return max(codes) if codes else None


def _placed(answer: dict[str, Any]) -> dict[str, Any]:
    """A legacy make_call answer that says the call was placed: ``{"status": "progress", "request_id": …}``.

    The documented success body carries both at the top and under ``data``; a body
    with another status (``error``, ``failed``) or without an id placed nothing.
    """
    data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
    status = answer.get("status", data.get("status"))
    if isinstance(status, str) and status.lower() not in ("progress", "success", "ok", "queued"):
        raise PlatformUnavailable(_message(answer, "failed"), {"platform": answer})
    if platform_call_id(answer) is None:
        raise PlatformUnavailable("The Piopiy API placed no call: its answer has no request_id.", {"platform": answer})
    return answer
