"""Security headers on every response: pages, JSON, static files, errors.

The Content-Security-Policy allows only what the dashboard uses: scripts,
styles, images (the favicon) and media (call recordings) from this origin;
fetch, Server-Sent Events and the listen-in WebSocket to this origin; and
the softphone's stream socket, which is built from ``PUBLIC_URL`` and so may
name another host than the one the operator browses. No inline script or
style is allowed (the templates have none), nothing may frame the pages.
With an https ``PUBLIC_URL`` every answer also carries HSTS. A view that sets a header itself keeps its value.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response


def stream_socket_origin(public_url: str) -> str | None:
    """``https://host:port/…`` -> ``wss://host:port`` (the softphone connects there); None if unusable."""
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"


def content_security_policy(public_url: str) -> str:
    stream = stream_socket_origin(public_url)
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self'",
        "media-src": "'self'",
        "connect-src": "'self'" + (f" {stream}" if stream else ""),
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


HSTS = "max-age=31536000"  # a year; not includeSubDomains: other names under the domain may not be ours


def security_headers(public_url: str) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(public_url),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if urlsplit(public_url).scheme == "https":
        # The service is reached over https: browsers keep to it (no sign-in form over plain http after a
        # downgrade); over plain http they ignore the header, so it is only sent where it means something.
        headers["Strict-Transport-Security"] = HSTS
    return headers


def init_app(app: Flask) -> None:
    from app.http import limits, sockets

    sockets.init_app(app)  # every WebSocket route: a well-formed handshake before the upgrade
    limits.init_app(app)  # /api/v1: API_RATE_LIMIT per client address, shared through Redis when set
    headers = security_headers(app.config["PUBLIC_URL"])

    @app.after_request
    def _add_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
