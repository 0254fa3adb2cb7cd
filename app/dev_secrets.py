"""Development's settings: the secrets ``make run`` generates once and keeps in ``instance/dev-secrets.json``.

``app/config.py`` decides when (``CALLSTREAM_ENV=development``); this fills the gaps and says so in the log,
never the secrets themselves.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

log = logging.getLogger("app.config")  # the line operators know, from the module that decides

SECRET_NAMES = ("SECRET_KEY", "WEBHOOK_TOKEN", "API_KEY", "DASHBOARD_PASSWORD")


def fill_development_values(config: dict[str, Any], missing: list[str]) -> None:
    """Fill ``missing`` secrets from ``instance/dev-secrets.json`` (made 0600 on first use) and local defaults,
    and say which were generated on this start and which reused: development only (``make run``)."""
    if not missing:
        return
    path = Path(config["INSTANCE_DIR"]) / "dev-secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    generated, reused, used = [], [], []  # logged apart: "generated" only for a secret made on this start
    for name in SECRET_NAMES:
        if not config.get(name):
            (reused if stored.get(name) else generated).append(name)
            stored.setdefault(name, secrets.token_urlsafe(24))
            config[name] = stored[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=2))
    path.chmod(0o600)
    port = os.environ.get("PORT") or "5000"  # the port `make run` serves on, so stream URLs reach us
    defaults = {"PUBLIC_URL": f"http://127.0.0.1:{port}", "PIOPIY_NUMBER": "919000000000"}
    for name, value in defaults.items():
        if not config.get(name):
            config[name] = value
            used.append(f"{name}={value}")
    unset = [name for name in missing if not config.get(name)]
    said = [f"generated {', '.join(generated)}" if generated else "", f"reused {', '.join(reused)}" if reused else ""]
    log.warning(
        "development mode: %s (the secrets are in %s, never in this log)%s%s. Never run production like this.",
        " and ".join(s for s in said if s) or "no secret generated",
        path,
        f"; defaults {', '.join(used)}" if used else "",
        f"; still unset: {', '.join(unset)} (outbound calls answer 503 until they are set)" if unset else "",
    )
