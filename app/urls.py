"""URLs: connection URLs as they may be shown (never with their password), and our own public origin.

``public_url``: where the platform and browsers reach this service. ``PUBLIC_URL``
when set; otherwise the origin of the request being served: its scheme as the
WSGI server set it (gunicorn takes ``X-Forwarded-Proto`` only from the proxies
``FORWARDED_ALLOW_IPS`` trusts) and its ``Host`` (which a PaaS router keeps; a
``ProxyFix`` in front would have applied ``X-Forwarded-Host`` already). The
derived URLs only reach whoever made the authenticated request (the platform's
webhook, an API client, a signed-in browser), so a forged ``Host`` misleads only
its sender.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import has_request_context, request

log = logging.getLogger(__name__)
_said = False


def safe_url(url: str) -> str:
    """``url`` without its password, for logs and errors."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def request_origin() -> str:
    """``scheme://host[:port]`` of the request being served ("" outside one); ws/wss read as http/https."""
    if not has_request_context():
        return ""
    scheme = {"ws": "http", "wss": "https"}.get(request.scheme, request.scheme)
    return f"{scheme}://{request.host}"


def public_url(config: Mapping[str, Any]) -> str:
    """``PUBLIC_URL``, or (unset) this request's origin; said in the log once per process."""
    configured = config.get("PUBLIC_URL") or ""
    if configured:
        return configured
    origin = request_origin()
    global _said
    if origin and not _said:
        _said = True
        log.warning(
            "PUBLIC_URL is not set: stream, media and input URLs use each request's own origin, "
            "from its Host and the trusted proxy's X-Forwarded-Proto (this one: %s). Set PUBLIC_URL to fix it.",
            origin,
        )
    return origin
