"""Real processes: gunicorn, sockets, vosk, pyttsx3, PostgreSQL, Redis, Chromium (see tests/README.md)."""
