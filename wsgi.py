"""The WSGI entry point: patch the standard library for gevent first, then build the app."""

from gevent import monkey

monkey.patch_all()

from app import create_app, shutdown, voice  # noqa: E402 - must come after patching
from streams import loopwatch  # noqa: E402

app = create_app()
shutdown.close_leftovers(app.extensions["callstream"])  # calls a killed worker left live end as "interrupted"
voice.warm_up(app)  # load vosk models and start TTS workers now, in this (forked) worker
loopwatch.start()  # measure event-loop lag (GET /api/v1/runtime)
