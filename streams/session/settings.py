"""What a call is told by the operator's configuration (app/live/opening.py builds it from app/config.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallSettings:
    idle_timeout: float = 30.0
    max_duration: float = 3600.0
    play_mode: str = "stream"
    caller_id: str = ""
    webhook_secret: str = ""  # whsec_…: signs outgoing webhooks (the handoff brief); "" = unsigned
    webhook_retries: int = 3  # each outgoing webhook, after its first attempt (streams/session/signed_post.py)
    reconnect_grace: float = 3.0  # a socket lost without a close frame may be redialled within this
