"""Every setting the service reads, from the environment, in one place.

``load_config`` turns the environment into Flask config keys; ``finalize``
checks what production needs and, in development (``CALLSTREAM_ENV=development``,
what ``make run`` sets), fills missing secrets with generated values kept in
``instance/dev-secrets.json`` so they survive restarts and never reach a log.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.dev_secrets import fill_development_values
from app.environment import (  # noqa: F401  (re-exported: ConfigError, parse_rate, load_env_file)
    ConfigError,
    env_auto_number,
    env_bool,
    env_choice,
    env_list,
    env_number,
    env_rate,
    env_rising,
    load_env_file,
    parse_rate,
)
from streams.speech.profiles import DEFAULT_PROFILE, PROFILES

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
# The files the service reads: the checkout's, or an installed package's copy (pyproject.toml "app.bundled").
FILES = ROOT if not (ROOT / "app" / "bundled").is_dir() else ROOT / "app" / "bundled"
HOME = ROOT if FILES == ROOT else Path.cwd()  # what it writes (instance/, models/): the checkout, else the cwd
MEDIA_DIR = FILES / "media"  # audio we ship and serve to the platform (hold music, prompts)
PLATFORM_URLS = {"v2": "https://rest.telecmi.com", "v3": "https://rest.piopiy.com/v3"}
CDR_URL = "https://piopiy.telecmi.com"  # TeleCMI's documented CDR pull API (/v1/piopiy/cmiuuid_cdr, …/requestid_cdr)


def _multiple_of_20(env: Mapping[str, str], name: str, default: int) -> int:
    value = env_number(env, name, default, minimum=20)
    if value % 20:
        raise ConfigError(f"{name} must be a multiple of 20 ms, not {value}")
    return value


LOG_FORMATS = ("text", "json")


def load_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read the environment into a dict of Flask config keys (no checks of presence)."""
    env = os.environ if environ is None else environ
    return {
        "CALLSTREAM_ENV": env_choice(env, "CALLSTREAM_ENV", "production", ("production", "development")),
        "LOG_LEVEL": (env.get("LOG_LEVEL") or "INFO").upper(),
        "LOG_FORMAT": env_choice(env, "LOG_FORMAT", "text", LOG_FORMATS),  # json: one object a line (app/logs.py)
        "SECRET_KEY": env.get("SECRET_KEY", ""),
        "WEBHOOK_TOKEN": env.get("WEBHOOK_TOKEN", ""),
        "API_KEY": env.get("API_KEY", ""),
        "PUBLIC_URL": (env.get("PUBLIC_URL") or "").rstrip("/"),
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{HOME / 'instance' / 'callstream.db'}",
        "INSTANCE_DIR": env.get("INSTANCE_DIR") or str(HOME / "instance"),
        **_platform(env),
        **_streams(env),
        **_voice(env),
        **_dashboard(env),
        **_cluster(env),
        **_limits(env),
        **_platform_records(env),
        **_webhooks(env),
        **_admission(env),
        **_call_webhook(env),
        # Agents
        "AGENTS_DIR": env.get("AGENTS_DIR") or str(FILES / "agents"),
        "DEFAULT_AGENT": env.get("DEFAULT_AGENT") or "demo-en",
    }


def _platform(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "PIOPIY_API_VERSION": env_choice(env, "PIOPIY_API_VERSION", "v2", ("v2", "v3")),
        "PIOPIY_API_URL": (env.get("PIOPIY_API_URL") or "").rstrip("/"),
        "PIOPIY_APP_ID": env.get("PIOPIY_APP_ID", ""),
        "PIOPIY_APP_SECRET": env.get("PIOPIY_APP_SECRET", ""),
        "PIOPIY_TOKEN": env.get("PIOPIY_TOKEN", ""),
        "PIOPIY_NUMBER": (env.get("PIOPIY_NUMBER") or "").lstrip("+"),
        "PIOPIY_TIMEOUT": env_number(env, "PIOPIY_TIMEOUT", 10.0, minimum=0.1, cast=float),
        "PIOPIY_RETRIES": env_number(env, "PIOPIY_RETRIES", 2),
        "PIOPIY_BACKOFF": env_number(env, "PIOPIY_BACKOFF", 0.4, cast=float),
    }


def _platform_records(env: Mapping[str, str]) -> dict[str, Any]:
    """The CDR pull API, the sweeper that asks it about calls left open, the capture of what the platform sent."""
    return {
        # The documented CDR pull API host; empty: PIOPIY_API_URL when that is set (a double, the emulator), else
        # TeleCMI's (CDR_URL).
        "PIOPIY_CDR_URL": (env.get("PIOPIY_CDR_URL") or "").rstrip("/"),
        # A call still "created" this many seconds after it was made is asked about (0: never).
        "SWEEP_AFTER": env_number(env, "SWEEP_AFTER", 300.0, cast=float),
        "SWEEP_EVERY": env_number(env, "SWEEP_EVERY", 60.0, minimum=0.05, cast=float),
        # Still unknown to the pull API this long after it was made (its last CDR retry is due at 30 min): ended.
        "SWEEP_GIVE_UP": env_number(env, "SWEEP_GIVE_UP", 7200.0, minimum=1.0, cast=float),
        # A directory: every webhook body and the stream socket's facts are written there (tokens redacted).
        "PLATFORM_CAPTURE": env.get("PLATFORM_CAPTURE", ""),
    }


def _streams(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "STREAM_LISTEN_MODE": env_choice(env, "STREAM_LISTEN_MODE", "caller", ("caller", "callee", "both")),
        "STREAM_VOICE_QUALITY": int(env_choice(env, "STREAM_VOICE_QUALITY", "8000", ("8000", "16000", "32000"))),
        "STREAM_URL_TTL": env_number(env, "STREAM_URL_TTL", 7200, minimum=10),
        # A hard cap on live calls per process; unset: none, the measured load decides (_admission, #21.1).
        "MAX_CALLS": env_number(env, "MAX_CALLS", 1, minimum=1) if (env.get("MAX_CALLS") or "").strip() else None,
        "MAX_CALL_SECONDS": env_number(env, "MAX_CALL_SECONDS", 3600, minimum=1, cast=float),
        "IDLE_TIMEOUT": env_number(env, "IDLE_TIMEOUT", 30, minimum=1, cast=float),
        "MAX_FRAME_BYTES": env_number(env, "MAX_FRAME_BYTES", 32000, minimum=320),
        "PLAYBACK_LEAD_MS": env_number(env, "PLAYBACK_LEAD_MS", 200, minimum=0),
        "AUDIO_CHUNK_MS": _multiple_of_20(env, "AUDIO_CHUNK_MS", 100),
        "PLAY_MODE": env_choice(env, "PLAY_MODE", "stream", ("stream", "pcmo")),
        "RECORD_CALLS": env_bool(env, "RECORD_CALLS", False),
        "WS_PING_INTERVAL": env_number(env, "WS_PING_INTERVAL", 0, cast=float),
        # The stream socket as mod_audio_stream opens it (#20.5, #25.3).
        "STREAM_RECONNECT_GRACE": env_number(env, "STREAM_RECONNECT_GRACE", 3, cast=float),
        "STREAM_AUDIO_BURST": env_number(env, "STREAM_AUDIO_BURST", 2, minimum=0.2, cast=float),
        "STREAM_AUDIO_FLOOD": env_number(env, "STREAM_AUDIO_FLOOD", 30, minimum=1, cast=float),
        "STREAM_BOTH_AUDIO": env_choice(env, "STREAM_BOTH_AUDIO", "mixed", ("mixed", "stereo")),
        "STREAM_READ_BATCH_MS": min(env_number(env, "STREAM_READ_BATCH_MS", 40, minimum=0), 200),
        "STREAM_READ_BATCH_BUSY": min(env_number(env, "STREAM_READ_BATCH_BUSY", 0.4, minimum=0, cast=float), 1.0),
    }


def _voice(env: Mapping[str, str]) -> dict[str, Any]:
    """vosk hears, pyttsx3 speaks; an optional LLM decides."""
    return {
        "VOICE_ENABLED": env_bool(env, "VOICE_ENABLED", True),
        "VOSK_MODEL_PATH": env.get("VOSK_MODEL_PATH", ""),
        "MODELS_DIR": env.get("MODELS_DIR") or str(HOME / "models"),
        "TURN_MODELS_DIR": env.get("TURN_MODELS_DIR") or str(HOME / "models" / "turn"),
        "STT_THREADS": env_number(env, "STT_THREADS", 4, minimum=1),
        # Warm free-speech recognisers a worker keeps per model and rate (streams/speech/reserve.py); auto: by cores
        "STT_WARM_FREE": env_auto_number(env, "STT_WARM_FREE"),
        "STT_WARM_SPARE": env_number(env, "STT_WARM_SPARE", 2),  # idle ones kept beyond those calls are using
        "STT_PROFILE": env_choice(env, "STT_PROFILE", DEFAULT_PROFILE, tuple(PROFILES)),
        "GIL_SWITCH_MS": env_number(env, "GIL_SWITCH_MS", 0.5, minimum=0.05, cast=float),
        "STT_CHUNK_MS": _multiple_of_20(env, "STT_CHUNK_MS", 100),
        "STT_MIN_CONFIDENCE": env_number(env, "STT_MIN_CONFIDENCE", 0.5, cast=float),
        "VAD_THRESHOLD": env_number(env, "VAD_THRESHOLD", 500, minimum=1),
        "TTS_WORKERS": env_number(env, "TTS_WORKERS", 2, minimum=1),
        "REPLY_DEADLINE": env_number(env, "REPLY_DEADLINE", 5, minimum=0.5, cast=float),
        "TTS_TIMEOUT": env_number(env, "TTS_TIMEOUT", 10, minimum=0.5, cast=float),
        "TTS_CACHE_SIZE": env_number(env, "TTS_CACHE_SIZE", 256),
        "LLM_URL": env.get("LLM_URL", ""),
        "LLM_MODEL": env.get("LLM_MODEL", "gpt-4o-mini"),
        "LLM_API_KEY": env.get("LLM_API_KEY", ""),
        "LLM_TIMEOUT": env_number(env, "LLM_TIMEOUT", 5, minimum=0.1, cast=float),
        # #23.1: the hosts an agent's HTTP tools may call (exact names; empty: no HTTP tools load).
        "TOOL_HOSTS": env_list(env, "TOOL_HOSTS"),
    }


def tool_secret(name: str) -> str:
    """The value of an agent tool's secret header: the environment variable the agent file names (#23.1)."""
    return os.environ.get(name, "")


def _cluster(env: Mapping[str, str]) -> dict[str, Any]:
    """Many workers and hosts: Redis carries who holds each call, commands and events (app/runtime/cluster.py)."""
    return {
        "REDIS_URL": env.get("REDIS_URL", ""),
        "NODE_URL": (env.get("NODE_URL") or "").rstrip("/"),  # this node's own public URL; default PUBLIC_URL
        # This node's name in the database, stable across restarts (a PaaS dyno name, else the host name):
        # on start a node closes only the calls stored under its own name (app/runtime/shutdown.py).
        "NODE_NAME": env.get("NODE_NAME") or env.get("DYNO") or socket.gethostname(),
        # gunicorn.conf.py reads the number; the launcher (app/runtime/launcher.py) only whether it is set.
        "WEB_CONCURRENCY": (env.get("WEB_CONCURRENCY") or "").strip(),
        "CLUSTER_TTL": env_number(env, "CLUSTER_TTL", 10.0, minimum=2, cast=float),
        "CLUSTER_HEARTBEAT": env_number(env, "CLUSTER_HEARTBEAT", 2.0, minimum=0.2, cast=float),
    }


def _admission(env: Mapping[str, str]) -> dict[str, Any]:
    """A node takes calls while its measured load allows (app/runtime/load.py, #21.1)."""
    return {
        "ADMIT_LOOP_LAG_MS": env_number(env, "ADMIT_LOOP_LAG_MS", 60.0, minimum=1, cast=float),
        "ADMIT_STT_WAIT_MS": env_number(env, "ADMIT_STT_WAIT_MS", 400.0, minimum=1, cast=float),
        "ADMIT_CPU": env_number(env, "ADMIT_CPU", 0.85, minimum=0.05, cast=float),
        "ADMIT_LOOP_CPU": env_number(env, "ADMIT_LOOP_CPU", 0.85, minimum=0.05, cast=float),
        "ADMIT_BURST": env_number(env, "ADMIT_BURST", 30, minimum=1),
        "ADMIT_FREE_WEIGHT": env_number(env, "ADMIT_FREE_WEIGHT", 3.0, minimum=1, cast=float),
        "ADMIT_HIGH": env_number(env, "ADMIT_HIGH", 0.8, minimum=0.05, cast=float),
        "ADMIT_LOW": env_number(env, "ADMIT_LOW", 0.6, minimum=0.0, cast=float),
        "ADMIT_WINDOW": env_number(env, "ADMIT_WINDOW", 5.0, minimum=0.2, cast=float),
        # Loop lag (ms) at which listen-in, partial transcripts, the live feed, the recording are shed (off: never).
        "SHED_MARKS_MS": env_rising(env, "SHED_MARKS_MS", "50,100,200,500", 4),
        # Workers on this machine share its cores (set by gunicorn.conf.py; not an operator's setting).
        "CALLSTREAM_WORKERS": env_number(env, "CALLSTREAM_WORKERS", 1, minimum=1),
    }


def _dashboard(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "DASHBOARD_USER": env.get("DASHBOARD_USER") or "admin",
        "DASHBOARD_PASSWORD": env.get("DASHBOARD_PASSWORD", ""),
        # Failed sign-ins allowed per client address and per user name, then 429 (successes do not count)
        "LOGIN_LIMIT_PER_ADDRESS": env_rate(env, "LOGIN_LIMIT_PER_ADDRESS", "10/minute"),
        "LOGIN_LIMIT_PER_ACCOUNT": env_rate(env, "LOGIN_LIMIT_PER_ACCOUNT", "5/minute"),
        # Proxies in front of us that append to X-Forwarded-For (a PaaS router: 1); 0 = use the peer address
        "TRUSTED_PROXY_HOPS": env_number(env, "TRUSTED_PROXY_HOPS", 0),
        "FORWARDED_ALLOW_IPS": trusted_forwarders(env),
        "API_RATE_LIMIT": env_rate(env, "API_RATE_LIMIT", "600/minute"),  # /api/v1 requests per client address
        # A sign-in lasts this long at most (the cookie and its server-side record, app/storage/sign_ins.py)
        "PERMANENT_SESSION_LIFETIME": round(
            env_number(env, "SESSION_LIFETIME_HOURS", 12, minimum=0.01, cast=float) * 3600
        ),
    }


def trusted_forwarders(env: Mapping[str, str]) -> str:
    """Addresses whose X-Forwarded-Proto gunicorn believes: none but this host unless named (a PaaS router:
    ``*``, since only the router reaches a dyno; the README's deploy section)."""
    return (env.get("FORWARDED_ALLOW_IPS") or "127.0.0.1").strip()


def _limits(env: Mapping[str, str]) -> dict[str, Any]:
    """What outsiders can make us read: request bodies, and files fetched to play."""
    return {
        # After SIGTERM, keep accepting connections this many seconds (answering /readyz 503, new calls busy)
        # before gunicorn closes its listener: time for a load balancer's health check to see the drain.
        "DRAIN_NOTICE": env_number(env, "DRAIN_NOTICE", 0, cast=float),
        # Flask refuses larger request bodies with a 413 (webhooks and API alike).
        "MAX_CONTENT_LENGTH": env_number(env, "MAX_CONTENT_LENGTH", 1024 * 1024, minimum=1024),
        # Only public hosts unless named here; bounded in size and time.
        "MEDIA_HOSTS": env_list(env, "MEDIA_HOSTS"),
        "MEDIA_MAX_BYTES": env_number(env, "MEDIA_MAX_BYTES", 20 * 1024 * 1024, minimum=1024),
        "MEDIA_TIMEOUT": env_number(env, "MEDIA_TIMEOUT", 10, minimum=0.5, cast=float),
        # The longest one play decodes to (and never more than the call has left): bounds memory, not the file.
        "MEDIA_MAX_SECONDS": env_number(env, "MEDIA_MAX_SECONDS", 300, minimum=1, cast=float),
        # Request bodies are read before the app runs (app/http/worker.py): this many seconds of grace,
        # then at least this many bytes a second, or 408; this many bodies at once per client, or 429.
        "REQUEST_BODY_TIMEOUT": env_number(env, "REQUEST_BODY_TIMEOUT", 5, minimum=0.5, cast=float),
        "REQUEST_BODY_MIN_RATE": env_number(env, "REQUEST_BODY_MIN_RATE", 8192, minimum=100),
        "REQUEST_BODIES_PER_CLIENT": env_number(env, "REQUEST_BODIES_PER_CLIENT", 16, minimum=1),
        # Events in one events-webhook request (each one a database write); more is a 413.
        "MAX_EVENTS_PER_REQUEST": env_number(env, "MAX_EVENTS_PER_REQUEST", 100, minimum=1),
    }


def _webhooks(env: Mapping[str, str]) -> dict[str, Any]:
    """Outgoing webhooks (the handoff brief): signed with a whsec_ secret, retried (streams/session/signed_post.py)."""
    secret = env.get("WEBHOOK_SIGNING_SECRET") or env.get("HANDOFF_SECRET") or ""
    if secret and not re.fullmatch(r"whsec_[A-Za-z0-9+/]{22,}={0,2}", secret):
        raise ConfigError("WEBHOOK_SIGNING_SECRET (or HANDOFF_SECRET) must be whsec_ + base64 of 16+ random bytes")
    return {"WEBHOOK_SIGNING_SECRET": secret, "WEBHOOK_RETRIES": env_number(env, "WEBHOOK_RETRIES", 3)}


def _call_webhook(env: Mapping[str, str]) -> dict[str, Any]:
    """The post-call webhook (#23.2, docs/webhooks-outgoing.md): call.ended and transfer.* from the outbox."""
    url = (env.get("CALL_WEBHOOK_URL") or "").strip()
    if url and not re.match(r"https?://[^/\s]+", url):
        raise ConfigError("CALL_WEBHOOK_URL must be an http:// or https:// URL")
    return {
        "CALL_WEBHOOK_URL": url,  # an agent's call_webhook_url overrides it
        "CALL_WEBHOOK_ATTEMPTS": env_number(env, "CALL_WEBHOOK_ATTEMPTS", 10, minimum=1),  # over about 17 minutes
        "RECORDING_URL_TTL": env_number(env, "RECORDING_URL_TTL", 7 * 86400, minimum=60),  # the signed link's life
        # finished rows (delivered, failed, skipped) hold transcripts and numbers: deleted this long after
        "OUTBOX_KEEP_DAYS": env_number(env, "OUTBOX_KEEP_DAYS", 30.0, minimum=0.01, cast=float),
    }


def required_settings(config: Mapping[str, Any]) -> list[str]:
    """Names production cannot run without, for the configured API version."""
    # PUBLIC_URL is not required: unset, each request's own origin is used (app/urls.py public_url).
    names = ["SECRET_KEY", "WEBHOOK_TOKEN", "API_KEY", "PIOPIY_NUMBER"]
    names += ["PIOPIY_APP_ID", "PIOPIY_APP_SECRET"] if config["PIOPIY_API_VERSION"] == "v2" else ["PIOPIY_TOKEN"]
    return names


def finalize(config: dict[str, Any]) -> None:
    """Check presence of required settings; in development fill the gaps and say so."""
    if not config.get("PIOPIY_CDR_URL"):
        config["PIOPIY_CDR_URL"] = config.get("PIOPIY_API_URL") or CDR_URL
    if not config.get("PIOPIY_API_URL"):
        config["PIOPIY_API_URL"] = PLATFORM_URLS[config["PIOPIY_API_VERSION"]]
    missing = [name for name in required_settings(config) if not config.get(name)]
    if config["CALLSTREAM_ENV"] == "development":
        fill_development_values(config, missing + ([] if config.get("DASHBOARD_PASSWORD") else ["DASHBOARD_PASSWORD"]))
        return
    if missing:
        raise ConfigError(
            "missing required settings: "
            + ", ".join(missing)
            + " (set them in the environment; see .env.example, or set CALLSTREAM_ENV=development for local defaults)"
        )
