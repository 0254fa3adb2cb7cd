"""What every WebSocket route checks before the upgrade: a well-formed handshake, and for the browser's
own sockets (listen-in) the page's ``Origin``.

A handshake without ``Sec-WebSocket-Key``, or of another version than 13, used to reach
simple-websocket, which failed with a 500 and a full traceback in the log each time, for anyone:
now it is a 400 and one warning line, on every socket route (the stream socket too), before the
route runs.

A browser sends its cookies with a WebSocket handshake to any site, and unlike ``fetch`` nothing
stops a page of another site from opening one: the session alone does not show that our own page
asked. ``Origin`` does (RFC 6455 §10.2, "cross-site WebSocket hijacking"), so a browser socket is
refused with a 403 before the upgrade unless it comes from this service's own origin: ``PUBLIC_URL``'s,
or the one the request was addressed to.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request

from app.errors import APIError, BadRequest

log = logging.getLogger(__name__)
VERSION = "13"  # RFC 6455: the only version there is


class Forbidden(APIError):
    status, code = 403, "forbidden"


def handshake_problem(headers: Mapping[str, str]) -> str | None:
    """Why this is not a WebSocket handshake simple-websocket can take (RFC 6455 §4.2.1), or None."""
    version = headers.get("Sec-WebSocket-Version", "").strip()
    if version != VERSION:
        return f"Sec-WebSocket-Version must be {VERSION}"
    key = headers.get("Sec-WebSocket-Key", "").strip()
    try:
        nonce = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        nonce = b""
    if len(nonce) != 16:
        return "Sec-WebSocket-Key must be 16 bytes in base64"
    return None


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, lower-cased, default ports dropped; None otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def own_origins(public_url: str, scheme: str, host: str) -> set[str]:
    """This service's origins: PUBLIC_URL's, and the one the request was addressed to."""
    found = {origin_of(public_url), origin_of(f"{scheme}://{host}")}
    return {origin for origin in found if origin}


def origin_ok() -> bool:
    """The request's ``Origin`` is one of this service's own (a missing or ``null`` one is not)."""
    given = origin_of(request.headers.get("Origin", ""))
    return given is not None and given in own_origins(current_app.config["PUBLIC_URL"], request.scheme, request.host)


def refuse_foreign_origin() -> None:
    """A ``before_request`` for a blueprint's browser sockets: 403 before the upgrade for another site's page."""
    rule = request.url_rule
    if rule is not None and getattr(rule, "websocket", False) and not origin_ok():
        log.warning("browser socket %s refused: Origin %r is not this service's", request.path, _shown("Origin"))
        raise Forbidden("This socket only accepts this service's own pages (Origin).")


def _shown(name: str) -> str:
    return request.headers.get(name, "")[:100]


OFFERED_EXTENSIONS = "callstream.offered_extensions"  # the environ key the offer is kept under (app/capture.py)


def _check_handshake() -> Any:
    rule = request.url_rule
    if rule is None or not getattr(rule, "websocket", False):
        return None
    problem = handshake_problem(request.headers)
    if problem:
        log.warning("WebSocket upgrade of %s refused: %s", request.path, problem)
        raise BadRequest("Not a WebSocket handshake.", {"headers": [problem]})
    # No extension on any socket: simple-websocket builds its answer from the environ, so without the offer it
    # accepts none. The stream's 20 ms of PCM does not compress (and deflate switched its fast path off, #20.5);
    # a browser's listen-in sends nothing worth compressing, and a deflated message could inflate to megabytes
    # before its size is checked (#25).
    offered = request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    if offered is not None:
        request.environ[OFFERED_EXTENSIONS] = offered
    return None


def init_app(app: Flask) -> None:
    app.before_request(_check_handshake)
