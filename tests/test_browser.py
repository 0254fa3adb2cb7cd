"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Screenshots of every page are saved under the test's temporary folder
(printed at the end of each test) so a person can look at them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from emulator.script import speak
from emulator.service import running_service

from .conftest import base_config
from .streaming import HEADERS, get_call, start_call, wait_for, write_script

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a test requirement (make test)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")

PASSWORD = "browser-test-password"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("browser")
    config = base_config(
        tmp, "http://127.0.0.1:1", PUBLIC_URL="auto", DASHBOARD_USER="ops", DASHBOARD_PASSWORD=PASSWORD, RECORD_CALLS=1
    )
    with running_service(config) as url:
        wait_for(lambda: requests.get(f"{url}/healthz", timeout=5).json()["stt"]["loaded"], timeout=60)
        yield url


@pytest.fixture(scope="module")
def mic_wav(tmp_path_factory) -> Path:
    """The softphone's microphone: silence through the greeting, then "네", then silence (Chrome loops it)."""
    rate = 16000
    pcm = b"\x00\x00" * int(rate * 6.8) + speak("네", "ko", 175, rate) + b"\x00\x00" * int(rate * 12)
    path = tmp_path_factory.mktemp("mic") / "ne.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return path


@pytest.fixture(scope="module")
def browser(mic_wav: Path) -> Iterator[object]:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                *FLAGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={mic_wav}",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, service: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=service, permissions=["microphone"])
    page = context.new_page()
    page.set_default_timeout(20000)
    yield page
    context.close()
    print(f"screenshots: {tmp_path}")


def sign_in(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/dashboard/calls")
    assert "/login" in page.url
    page.fill('input[name="username"]', "ops")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url("**/dashboard/calls")


def emulated_call(service: str, tmp_path: Path, steps: list[dict]) -> subprocess.Popen:
    script = write_script(tmp_path, {"voice": "ko", "steps": steps, "max_seconds": 60})
    return start_call(service, script)


def live_call(service: str) -> str:
    calls = wait_for(
        lambda: [
            c
            for c in requests.get(f"{service}/api/v1/calls?state=live", headers=HEADERS, timeout=5).json()["items"]
            if c["direction"] == "inbound"
        ]
    )
    return calls[0]["id"]


def test_sign_in_page(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto("/dashboard/calls")
    page.screenshot(path=str(tmp_path / "login.png"))
    page.fill('input[name="username"]', "ops")
    page.fill('input[name="password"]', "wrong")
    page.click('button[type="submit"]')
    assert "Wrong user name or password" in page.inner_text("#login-error")
    sign_in(page)
    assert page.inner_text("h1").startswith("Live calls")
    page.goto("/dashboard/agents")
    assert "demo-ko" in page.inner_text("table")
    page.screenshot(path=str(tmp_path / "agents.png"), full_page=True)


def test_a_call_appears_live_and_its_transcript_grows(page, service: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sign_in(page)
    proc = emulated_call(
        service, tmp_path, [{"dtmf": "1"}, {"listen": "reply"}, {"say": "네"}, {"listen": "reply"}, {"listen": 2}]
    )
    try:
        row = page.wait_for_selector("#live tr[data-call]")  # pushed by Server-Sent Events, no reload
        call_id = row.get_attribute("data-call")
        page.screenshot(path=str(tmp_path / "calls.png"), full_page=True)
        page.click(f'#live tr[data-call="{call_id}"] a')
        page.wait_for_selector("#transcript .line.bot")
        first = page.locator("#transcript .line").count()
        page.wait_for_selector("#transcript .line.caller", timeout=30000)
        page.wait_for_function("document.querySelectorAll('#transcript .line').length >= 3", timeout=30000)
        assert page.locator("#transcript .line").count() > first
        assert "네" in page.inner_text("#transcript .line.caller")
        page.wait_for_selector("#latency code", timeout=15000)
        page.screenshot(path=str(tmp_path / "call.png"), full_page=True)
    finally:
        proc.communicate(timeout=60)


def test_supervisor_controls_reach_the_platform(page, service: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sign_in(page)
    proc = emulated_call(service, tmp_path, [{"dtmf": "1"}, {"listen": 40}])
    try:
        call_id = live_call(service)
        page.goto(f"/dashboard/calls/{call_id}")
        status = page.locator("#status")

        def press(selector: str, expect: str) -> None:
            page.click(selector)
            page.wait_for_function(f"document.getElementById('status').textContent.startsWith('{expect}:')")
            assert "failed" not in status.inner_text()

        press('button[data-action="pause"]', "pause")
        press('button[data-action="resume"]', "resume")
        press('button[data-action="break"]', "break")
        page.fill('form[data-action="say"] input[name="text"]', "잠시만 기다려 주세요.")
        press('form[data-action="say"] button', "say")
        page.select_option('form[data-action="play"] select[name="file"]', "hold.wav")
        page.select_option('form[data-action="play"] select[name="mode"]', "pcmo")
        press('form[data-action="play"] button', "play")
        page.click("#listen")  # listen in: both legs arrive over a WebSocket as binary frames
        page.wait_for_timeout(500)
        assert "closed" not in status.inner_text()
        press('form[data-action="transfer"] button', "transfer")
        page.wait_for_function("document.getElementById('state').textContent === 'handed_off'", timeout=15000)
        page.screenshot(path=str(tmp_path / "controls.png"), full_page=True)
        page.once("dialog", lambda dialog: dialog.accept())  # hang up asks first
        press('button[data-action="hangup"]', "hangup")
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    report = json.loads(out)
    assert [c["action"] for c in report["controls"]][:3] == ["pause", "resume", "break"]
    socket_pcmo = [a["action"] for p in report["pcmo"] if p["via"] == "socket" for a in p["pcmo"]]
    assert socket_pcmo == ["play", "bridge", "hangup"]
    assert report["transfers"][0]["action"]["connect"] == [{"type": "pstn", "number": 919000000003}]
    done = get_call(service, call_id)
    controls = [e["detail"] for e in done["timeline"] if e["kind"] == "control"]
    assert {c["by"] for c in controls} == {"dashboard:ops"}


def test_softphone_calls_the_bot_from_the_browser(page, service: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sign_in(page)
    page.goto("/dashboard/softphone")
    page.select_option("#agent", "demo-ko")
    page.screenshot(path=str(tmp_path / "softphone.png"))
    page.click("#dial")
    page.wait_for_function("window.softphone.state === 'live'")
    # The fake microphone says "네" after the greeting; the bot's answer is heard and transcribed.
    page.wait_for_selector("#transcript .line.caller", timeout=40000)
    page.wait_for_function("[...document.querySelectorAll('#transcript .line.bot')].length >= 2", timeout=20000)
    state = page.evaluate("window.softphone")
    assert state["framesSent"] > 200 and state["audioMessages"] > 20
    lines = page.locator("#transcript .line").all_inner_texts()
    assert any("네" in line for line in lines if line.startswith("caller"))
    page.screenshot(path=str(tmp_path / "softphone-call.png"), full_page=True)
    call_id = state["callId"]
    page.click("#hangup")
    done = wait_for(lambda: (c := get_call(service, call_id))["state"] == "ended" and c, timeout=15)
    assert done["direction"] == "browser"
    turns = [e["detail"] for e in done["timeline"] if e["kind"] == "turn"]
    assert turns and turns[0]["intent"] == "yes"
    time.sleep(0.2)
