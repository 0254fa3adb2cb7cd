"""Server settings shared by the Procfile, `make run` and the benchmarks.

One gevent worker carries hundreds of call sockets on one event loop. More
workers (``WEB_CONCURRENCY``) need ``REDIS_URL``: a call's socket lives in one
worker, and Redis is how the others reach it (app/runtime/cluster.py). Without
it the service runs one worker and logs a warning (never exits: a PaaS sets
``WEB_CONCURRENCY`` on its own). With several
workers the app and the speech models load once in the master, before fork.
"""

import os
import re
import socket

from gunicorn.glogging import Logger

from app.config import LOG_FORMATS, env_choice, load_env_file
from app.logs import RedactQuery, formatter, redact_queries

load_env_file()  # a .env beside us (or in the cwd) when present; the environment wins

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
# gevent's worker, reading every request body under a deadline and per-client caps first (#25.1)
worker_class = "app.http.worker.GuardedWorker"


def _workers(environ: dict) -> tuple[int, str | None]:
    """How many workers to run, and a warning when that is not what WEB_CONCURRENCY asked for.

    A PaaS sets WEB_CONCURRENCY itself from the machine's size (Heroku's Python buildpack does, at dyno
    boot, when the app has not), so it cannot be told from an operator's choice. Without REDIS_URL several
    workers could not reach each other's calls (a REST command or the dashboard would miss a call held by
    another worker): one worker serves every call correctly, so run one and say why, rather than refuse
    to boot (a first deploy without Redis would never start).
    """
    raw = (environ.get("WEB_CONCURRENCY") or "").strip()
    try:
        asked = int(raw) if raw else 1
    except ValueError:
        return 1, f"WEB_CONCURRENCY={raw!r} is not a number: running 1 worker"
    if asked > 1 and not environ.get("REDIS_URL"):
        return 1, (
            f"WEB_CONCURRENCY={asked} without REDIS_URL: running 1 worker. Workers reach each other's calls "
            "through Redis; set REDIS_URL to use more (a PaaS may set WEB_CONCURRENCY from the machine's size)"
        )
    return max(1, asked), None


workers, workers_warning = _workers(dict(os.environ))
os.environ["CALLSTREAM_WORKERS"] = str(workers)  # the workers share this machine's cores (app/runtime/load.py)
preload_app = workers > 1  # the speech models are loaded once, in the master, and shared after fork
if preload_app:
    os.environ["CALLSTREAM_PRELOAD"] = "1"
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# On SIGTERM live calls are told and ended (app/runtime/shutdown.py) within this many seconds, less 5.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
timeout = 60
keepalive = 5
accesslog = "-" if os.environ.get("ACCESS_LOG", "1") not in ("0", "false") else None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The webhook token travels as ?token=; never write query strings to the access log.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
# gunicorn's control socket lives at one fixed path per user; several instances
# on one machine (tests, benchmarks) would fight over it, and nothing here uses it.
control_socket_disable = True
# Proxies are named, never assumed: by default only this host may say a request came over https
# (app/config.py, FORWARDED_ALLOW_IPS). No header may set SCRIPT_NAME or PATH_INFO, from anyone: the
# service is always served at the root, and a router passes such headers on from clients.
from app.config import trusted_forwarders  # noqa: E402

forwarded_allow_ips = trusted_forwarders(os.environ)
forwarder_headers = ""


class RedactingLogger(Logger):
    """gunicorn's logger, except that its error log never shows a query string.

    gunicorn logs the raw request line of a malformed request ("Invalid request
    from ip=…: Invalid HTTP Version: 'GET /stream/x?exp=…&sig=… …'").
    """

    redact = RedactQuery()

    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        """The access log's fields, with no query in them: PATH_INFO is decoded, so a client that sent ``%3F``
        has its ``?token=…`` in the path (review D5)."""
        found = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r"):
            found[key] = redact_queries(re.sub(r"(?i)%3f", "?", str(found.get(key) or ""), count=1))
        found["q"] = "[redacted]" if found.get("q") else ""
        return found

    def setup(self, cfg):  # type: ignore[no-untyped-def]
        super().setup(cfg)
        self.error_log.addFilter(self.redact)
        # gunicorn's own lines as JSON too (app/logs.py)
        if env_choice(os.environ, "LOG_FORMAT", "text", LOG_FORMATS) == "json":
            node = os.environ.get("NODE_NAME") or os.environ.get("DYNO") or socket.gethostname()  # as app/config
            for handler in self.error_log.handlers + self.access_log.handlers:
                handler.setFormatter(formatter("json", node))


logger_class = RedactingLogger


def on_starting(server):  # noqa: ANN001 - gunicorn's hook signature
    """Once, in the master, before any worker: say what was changed from the environment's request."""
    if workers_warning:
        server.log.warning("callstream: %s", workers_warning)


def post_worker_init(worker):  # noqa: ANN001 - gunicorn's hook signature
    """This process now serves calls: warm up, join the cluster, handle SIGTERM (app/process.py)."""
    from app.process import start_serving

    start_serving(worker)


def worker_exit(server, worker):  # noqa: ANN001 - gunicorn's hook signature
    """The worker is stopping: the call events still queued for the database are stored first."""
    from app.process import stop_serving

    stop_serving(worker)
