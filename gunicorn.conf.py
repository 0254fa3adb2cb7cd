"""Server settings shared by the Procfile, `make run` and the benchmarks.

One gevent worker per process: live calls keep per-process state (sessions,
the vosk model, the TTS pool) and a single event loop carries hundreds of
sockets. Scale out with more dynos/instances, not more workers.
"""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
worker_class = "gevent"
workers = 1
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# On SIGTERM live calls are told and ended (app/shutdown.py) within this many seconds, less 5.
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


def post_worker_init(worker):  # noqa: ANN001 - gunicorn's hook signature
    """On SIGTERM, tell live callers and end their calls properly (app/shutdown.py)."""
    from app.shutdown import install

    install(worker)
