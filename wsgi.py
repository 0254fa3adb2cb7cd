"""The WSGI entry point: patch the standard library for gevent first, then build the app."""

from gevent import monkey

monkey.patch_all()

from app import create_app, voice  # noqa: E402 - must come after patching

app = create_app()
voice.warm_up(app)  # load vosk models and start TTS workers now, in this (forked) worker
