"""What each serving process starts once it is a worker: after gunicorn forks it, before calls come.

With several workers (``WEB_CONCURRENCY``) the app and the speech models are
built once in gunicorn's master (``preload_app``) and shared by the forked
workers; everything that holds threads, sockets or child processes (the
database connection, the TTS workers, the cluster's greenlets) starts here,
in the worker.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask

from app.dashboard import listen_in
from app.live import warmup
from app.outbox import delivery
from app.runtime import shutdown
from app.runtime.cluster import lost_calls_sweeper
from app.services import Services
from app.webhooks import bridging, pull
from streams import loopwatch
from streams.shedding import SHEDDING

log = logging.getLogger(__name__)


def preload(app: Flask) -> None:
    """In gunicorn's master, before fork: load the speech models once (workers share the pages)."""
    services: Services = app.extensions["callstream"]
    if services.voice is not None:
        services.voice.models.load_now()
    log.info("preloaded in the master (pid %d): workers share the speech models", os.getpid())


def start_serving(worker: Any) -> None:
    """gunicorn ``post_worker_init``: this process now serves calls."""
    app: Flask = worker.wsgi
    services: Services | None = app.extensions.get("callstream")
    if services is None:  # another app under the same config (bench/bare.py, the benchmark's baseline)
        return
    if os.environ.get("CALLSTREAM_PRELOAD"):
        services.db.after_fork()  # a connection must never be shared across fork
    shutdown.install(worker)
    if services.cluster is not None:
        listen_in.install(services.cluster)
        bridging.install(services.cluster)
        services.cluster.start(lost_calls_sweeper(services.cluster, services.store, services.bus))
    else:
        shutdown.close_leftovers(services)  # one process: whatever is still live was left by a dead one
    warmup.warm_up(app)
    loopwatch.READS.configure(app.config["STREAM_READ_BATCH_MS"] / 1000, app.config["STREAM_READ_BATCH_BUSY"])
    SHEDDING.configure(tuple(ms / 1000 for ms in app.config["SHED_MARKS_MS"]))  # from when a late loop gives up what
    loopwatch.start()
    if services.load is not None:
        services.load.start()  # the measured load that admission follows (#21.1)
    pull.start(app)  # issue #20.4: calls a lost webhook left open are settled by the platform's CDR pull API
    delivery.start(app)  # issue #23.2: the outbox's webhooks (call.ended, transfer.*), signed and retried


def stop_serving(worker: Any) -> None:
    """gunicorn ``worker_exit``: store the call events still queued (app/storage/writes.py) before the process ends."""
    app: Flask | None = getattr(worker, "wsgi", None)
    services: Services | None = app.extensions.get("callstream") if app is not None else None
    if services is None or not services.writes.pending:
        return
    if not services.writes.wait_empty(10):
        log.error("exiting with %d call event(s) not stored: the database did not take them", services.writes.pending)
