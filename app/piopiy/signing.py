"""Signed, expiring stream URLs: the only thing that lets a socket into a call.

The signature is HMAC-SHA256 over ``"<call id>.<expiry>"`` with SECRET_KEY,
base64url without padding; checks are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import urlencode


def signature(secret: str, call_id: str, expires: int) -> str:
    mac = hmac.new(secret.encode(), f"{call_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def ws_base(public_url: str) -> str:
    """``https://host`` -> ``wss://host``; ``http://host`` -> ``ws://host``."""
    if public_url.startswith("https://"):
        return "wss://" + public_url[len("https://") :]
    if public_url.startswith("http://"):
        return "ws://" + public_url[len("http://") :]
    return public_url


def stream_url(public_url: str, secret: str, call_id: str, ttl: int, now: float | None = None) -> str:
    """The ws(s) URL the platform opens for ``call_id``, valid for ``ttl`` seconds."""
    expires = int((now if now is not None else time.time()) + ttl)
    query = urlencode({"exp": expires, "sig": signature(secret, call_id, expires)})
    return f"{ws_base(public_url)}/stream/{call_id}?{query}"


def verify(secret: str, call_id: str, expires: str | None, sig: str | None, now: float | None = None) -> str | None:
    """None when the URL is good, else the reason it is not ("bad signature", "expired")."""
    # ASCII digits only (str.isdigit and int() also take e.g. Arabic-Indic digits), and a sane length; an ASCII
    # signature (hmac.compare_digest raises TypeError on other text: a 500 on /recordings/<id>.wav, found by
    # the API fuzzer).
    if not expires or not sig or not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
        return "bad signature"
    if not sig.isascii():
        return "bad signature"
    if not hmac.compare_digest(signature(secret, call_id, int(expires)), sig):
        return "bad signature"
    if int(expires) < (now if now is not None else time.time()):
        return "expired"
    return None


# Recordings (#23.2): the post-call webhook links the call's WAV through a signed URL that expires. The
# signed text names what it opens ("recording:<call id>"), so a stream URL's signature never opens it.
RECORDING = "recording:"


def recording_url(public_url: str, secret: str, call_id: str, ttl: int, now: float | None = None) -> str:
    """The http(s) URL of ``call_id``'s recording, valid for ``ttl`` seconds, without any other credential."""
    expires = int((now if now is not None else time.time()) + ttl)
    query = urlencode({"exp": expires, "sig": signature(secret, RECORDING + call_id, expires)})
    return f"{public_url}/recordings/{call_id}.wav?{query}"


def verify_recording(secret: str, call_id: str, expires: str | None, sig: str | None) -> str | None:
    """None when a recording URL is good, else why not ("bad signature", "expired")."""
    return verify(secret, RECORDING + call_id, expires, sig)
