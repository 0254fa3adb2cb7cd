"""The WSGI entry point: patch the standard library for gevent first, then build the app.

Per-process start-up (TTS workers, warm-up, the cluster, shutdown handling) runs
in gunicorn's ``post_worker_init`` hook (app/process.py), after any fork.
"""

import os

from gevent import monkey

monkey.patch_all()

from app import create_app, process  # noqa: E402 - must come after patching

app = create_app()
if os.environ.get("CALLSTREAM_PRELOAD"):  # gunicorn's master, several workers to fork
    process.preload(app)
