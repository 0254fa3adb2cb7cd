"""Server settings shared by the Procfile, `make run` and the benchmarks.

One gevent worker per process: live calls keep per-process state (sessions,
the vosk model, the TTS pool) and a single event loop carries hundreds of
sockets. Scale out with more dynos/instances, not more workers.
"""

import os

from gunicorn.glogging import Logger

from app.logs import RedactQuery

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
worker_class = "gevent"
workers = 1
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# Live streams last minutes: a restart waits this long for calls to finish.
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
