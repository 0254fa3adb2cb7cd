"""Server settings shared by the Procfile, `make run` and the benchmarks.

One gevent worker carries hundreds of call sockets on one event loop. More
workers (``WEB_CONCURRENCY``) need ``REDIS_URL``: a call's socket lives in one
worker, and Redis is how the others reach it (app/runtime/cluster.py). With several
workers the app and the speech models load once in the master, before fork.
"""

import os
import sys

from gunicorn.glogging import Logger

from app.logs import RedactQuery

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
# gevent's worker, reading every request body under a deadline and per-client caps first (#25.1)
worker_class = "app.http.worker.GuardedWorker"
workers = int(os.environ.get("WEB_CONCURRENCY") or 1)
if workers > 1 and not os.environ.get("REDIS_URL"):
    sys.exit(
        f"callstream: WEB_CONCURRENCY={workers} needs REDIS_URL. Each worker holds its own calls, and without "
        "Redis a REST command or the dashboard could not reach a call held by another worker. "
        "Set REDIS_URL, or WEB_CONCURRENCY=1."
    )
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
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")


class RedactingLogger(Logger):
    """gunicorn's logger, except that its error log never shows a query string.

    gunicorn logs the raw request line of a malformed request ("Invalid request
    from ip=…: Invalid HTTP Version: 'GET /stream/x?exp=…&sig=… …'").
    """

    redact = RedactQuery()

    def setup(self, cfg):  # type: ignore[no-untyped-def]
        super().setup(cfg)
        self.error_log.addFilter(self.redact)


logger_class = RedactingLogger


def post_worker_init(worker):  # noqa: ANN001 - gunicorn's hook signature
    """This process now serves calls: warm up, join the cluster, handle SIGTERM (app/process.py)."""
    from app.process import start_serving

    start_serving(worker)


def worker_exit(server, worker):  # noqa: ANN001 - gunicorn's hook signature
    """The worker is stopping: the call events still queued for the database are stored first."""
    from app.process import stop_serving

    stop_serving(worker)
