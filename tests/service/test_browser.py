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
import yaml

from emulator.script import speak
from emulator.service import running_service
from tests.conftest import ROOT, WEBHOOK_TOKEN, base_config
from tests.support.streaming import (
    HEADERS,
    call_id_of,
    get_call,
    start_call,
    wait_for,
    wait_until_hearing,
    write_script,
)

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


# Data from outside that must reach the page as text: a caller "number" and an agent name that are HTML.
WEIRD_FROM = "<img src=x onerror=window.__xss=1>"
WEIRD_AGENT = '<img src=y onerror="window.__xss=2">Ops & "Co"'
WEIRD_NUMBER = "919111000777"


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("browser")
    agents_dir = tmp / "agents"
    agents_dir.mkdir()
    for path in (ROOT / "agents").glob("*.yaml"):
        shutil.copy(path, agents_dir / path.name)
    weird = {"name": WEIRD_AGENT, "numbers": [WEIRD_NUMBER], "greeting": "Hi.", "no_stt": "hangup"}
    (agents_dir / "weird.yaml").write_text(yaml.safe_dump(weird))
    config = base_config(
        tmp,
        "http://127.0.0.1:1",
        PUBLIC_URL="auto",
        DASHBOARD_USER="ops",
        DASHBOARD_PASSWORD=PASSWORD,
        RECORD_CALLS=1,
        AGENTS_DIR=str(agents_dir),
    )
    with running_service(config) as url:
        wait_until_hearing(url)
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


def until(page, expression: str, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``expression`` is true in the page. Not page.wait_for_function: that evaluates its
    predicate with eval inside the page, which the pages' Content-Security-Policy (rightly) forbids."""
    # The expression is inlined into the evaluated source (evaluated by the debugger protocol, which
    # the CSP does not govern) and checked every few milliseconds, as wait_for_function does.
    met = page.evaluate(
        f"""new Promise((resolve) => {{
          const deadline = Date.now() + {timeout * 1000};
          const check = () => {{
            if ({expression}) resolve(true);
            else if (Date.now() > deadline) resolve(false);
            else setTimeout(check, 5);
          }};
          check();
        }})"""
    )
    assert met, f"not true within {timeout}s: {expression}"


def csp_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Collects the page's console errors that report a Content-Security-Policy violation, from now on."""
    found: list[str] = []
    page.on("console", lambda m: m.type == "error" and "Content Security Policy" in m.text and found.append(m.text))
    return found


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
        until(page, "document.querySelectorAll('#transcript .line').length >= 3", timeout=30)
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
        blocked = csp_violations(page)
        page.goto(f"/dashboard/calls/{call_id}")
        status = page.locator("#status")

        def press(selector: str, expect: str) -> None:
            page.click(selector)
            until(page, f"document.getElementById('status').textContent.startsWith('{expect}:')")
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
        assert "closed" not in status.inner_text() and page.inner_text("#listen") == "Stop listening"
        assert not blocked
        press('form[data-action="transfer"] button', "transfer")
        until(page, "document.getElementById('state').dataset.state === 'handed_off'", timeout=15)
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


def test_the_brief_and_the_ring_appear_live_while_the_phone_rings(page, service: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sign_in(page)
    steps = [{"dtmf": "1"}, {"listen": "reply"}, {"listen": 1}, {"say": "상담원"}, {"listen": 6}]
    proc = emulated_call(service, tmp_path, steps)  # the person answers after ring_seconds (1 s)
    try:
        call_id = live_call(service)
        page.goto(f"/dashboard/calls/{call_id}")
        assert page.locator("#brief").count() == 0  # nobody has asked for a person yet
        page.wait_for_selector("#brief p", timeout=30000)  # from the live feed, no reload
        assert "상담원" in page.inner_text("#brief")  # the caller's last words are in the summary
        answered = "transfer: answered: a person has the call"
        until(page, f"(document.getElementById('ring') || {{}}).textContent === '{answered}'")
        page.screenshot(path=str(tmp_path / "brief.png"), full_page=True)
    finally:
        proc.communicate(timeout=60)


def test_softphone_calls_the_bot_from_the_browser(page, service: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sign_in(page)
    blocked = csp_violations(page)
    page.goto("/dashboard/softphone")
    page.select_option("#agent", "demo-ko")
    page.screenshot(path=str(tmp_path / "softphone.png"))
    assert page.locator("#call-line").is_hidden() and page.is_enabled("#dial") and page.is_disabled("#hangup")
    idle_look = button_look(page, "#dial")
    page.click("#dial")
    until(page, "window.softphone.state === 'live'")
    assert page.is_disabled("#dial") and page.is_enabled("#hangup")  # one call at a time
    assert button_look(page, "#dial") != idle_look  # and it shows
    assert page.locator("#call-line").is_visible() and page.inner_text("#call-link") == state_call_id(page)[:8]
    assert not low_contrast(page) and not blocked  # the stream socket to PUBLIC_URL is allowed
    # The fake microphone says "네" after the greeting; the bot's answer is heard and transcribed.
    page.wait_for_selector("#transcript .line.caller", timeout=40000)
    until(page, "[...document.querySelectorAll('#transcript .line.bot')].length >= 2", timeout=20)
    state = page.evaluate("window.softphone")
    assert state["framesSent"] > 200 and state["audioMessages"] > 20
    lines = page.locator("#transcript .line").all_inner_texts()
    assert any("네" in line for line in lines if line.startswith("caller"))
    page.screenshot(path=str(tmp_path / "softphone-call.png"), full_page=True)
    call_id = state["callId"]
    page.click("#hangup")
    assert page.is_enabled("#dial") and page.is_disabled("#hangup")
    done = wait_for(lambda: (c := get_call(service, call_id))["state"] == "ended" and c, timeout=15)
    assert done["direction"] == "browser"
    turns = [e["detail"] for e in done["timeline"] if e["kind"] == "turn"]
    assert turns and turns[0]["intent"] == "yes"
    time.sleep(0.2)


def state_call_id(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate("window.softphone.callId")


def button_look(page, selector: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector(selector, "el => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]")


# Every visible button (and any link or input dressed as one: its own background or border) with the
# WCAG contrast of its text colour against the background actually behind it. The background is
# found by walking up the ancestors, compositing translucent layers, until an opaque one (the
# canvas is white). A background image makes the colour unknowable: that is reported, not guessed.
CONTRAST_JS = """
() => {
  const rgba = (text) => {
    const m = text.match(/rgba?\\(([^)]*)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => {
    const a = top[3] + below[3] * (1 - top[3]);
    if (a === 0) return [0, 0, 0, 0];
    return [0, 1, 2].map((i) => (top[i] * top[3] + below[i] * below[3] * (1 - top[3])) / a).concat([a]);
  };
  const luminance = (c) => {
    const linear = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    const [r, g, b] = c.slice(0, 3).map(linear);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const dressed = (el) => {
    const s = getComputedStyle(el);
    return (rgba(s.backgroundColor) || [0, 0, 0, 0])[3] > 0 || parseFloat(s.borderTopWidth) > 0;
  };
  const candidates = [...document.querySelectorAll(
    'button, input[type="submit"], input[type="button"], input[type="reset"], [role="button"], a')]
    .filter((el) => el.tagName !== "A" || el.matches('[role="button"], .button') || dressed(el))
    .filter((el) => el.checkVisibility() && el.getBoundingClientRect().width > 0);
  return candidates.map((el) => {
    const layers = [];
    let unknown = null;
    for (let node = el; node; node = node.parentElement) {
      const s = getComputedStyle(node);
      if (s.backgroundImage !== "none") { unknown = `background image on ${node.tagName}`; break; }
      const c = rgba(s.backgroundColor);
      if (c && c[3] > 0) layers.push(c);
      if (c && c[3] === 1) break;
    }
    let bg = [255, 255, 255, 1];
    for (const layer of layers.reverse()) bg = over(layer, bg);
    const fg = over(rgba(getComputedStyle(el).color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const text = (el.innerText || el.value || el.getAttribute("aria-label") || "").trim();
    return {text, tag: el.tagName, id: el.id, fg: fg.map(Math.round), bg: bg.map(Math.round),
            ratio: (hi + 0.05) / (lo + 0.05), unknown};
  });
}
"""


def low_contrast(page, *, buttons: bool = True) -> list[str]:  # type: ignore[no-untyped-def]
    """Buttons on the page whose text contrast is under WCAG AA (4.5:1), or cannot be judged."""
    found = page.evaluate(CONTRAST_JS)
    assert found or not buttons, f"no buttons found on {page.url}"
    return [
        f"{page.url}: {b['tag']} {b['text']!r} #{b['id']}: "
        + (b["unknown"] or f"contrast {b['ratio']:.2f} (text {b['fg']} on {b['bg']})")
        for b in found
        if b["unknown"] or b["ratio"] < 4.5
    ]


def visit(context, path: str, shots: Path, *, buttons: bool = True) -> list[str]:  # type: ignore[no-untyped-def]
    """Open ``path`` in a fresh tab and list what is wrong: console errors (CSP violations are
    console errors), script errors, failed or 4xx/5xx requests, low-contrast buttons."""
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(f"{path}: console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"{path}: script error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"{path}: request failed: {r.url} {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{path}: {r.status} for {r.url}"))
    response = page.goto(path)
    assert response is not None and response.status == 200, f"{path}: {response and response.status}"
    for href in page.eval_on_selector_all('link[rel~="icon"]', "links => links.map((l) => l.href)") or ["/favicon.ico"]:
        icon = context.request.get(href)
        if icon.status != 200 or not icon.headers["content-type"].startswith("image/"):
            problems.append(f"{path}: icon {href}: {icon.status} {icon.headers['content-type']}")
    page.wait_for_load_state("load")
    page.wait_for_timeout(700)  # late console messages: EventSource, CSP reports
    page.screenshot(path=str(shots / f"{path.strip('/').replace('/', '_') or 'root'}.png"), full_page=True)
    problems += low_contrast(page, buttons=buttons)
    page.close()
    return problems


def test_every_page_is_readable_and_clean(browser, service: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=service)
    context.set_default_timeout(20000)
    problems = visit(context, "/login", tmp_path) + visit(context, "/api/v1/docs", tmp_path, buttons=False)
    sign_in(context.new_page())
    proc = emulated_call(service, tmp_path, [{"dtmf": "1"}, {"listen": 40}])
    try:
        call_id = live_call(service)
        for path in [
            "/dashboard/calls",
            f"/dashboard/calls/{call_id}",  # live: the supervisor controls show
            "/dashboard/agents",
            "/dashboard/agents/demo-ko",
            "/dashboard/softphone",
            "/api/v1/docs",
        ]:
            problems += visit(context, path, tmp_path)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
        context.close()
        print(f"screenshots: {tmp_path}")
    assert not problems, "\n".join(problems)
    favicon = requests.get(f"{service}/favicon.ico", timeout=5)
    assert favicon.status_code == 200 and favicon.headers["Content-Type"] == "image/x-icon"
    assert favicon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_webhook_data_is_shown_as_text_never_run(page, service: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sign_in(page)
    page.wait_for_timeout(300)  # the live list's EventSource is connected
    body = {"from": WEIRD_FROM, "to": WEIRD_NUMBER, "time": "now", "cmiuuid": f"xss-{time.monotonic_ns()}"}
    hook = requests.post(f"{service}/webhooks/piopiy/answer", params={"token": WEBHOOK_TOKEN}, json=body, timeout=5)
    call_id = call_id_of(next(a["ws_url"] for a in hook.json() if a["action"] == "stream"))
    row = page.locator(f'#live tr[data-call="{call_id}"]')  # added by calls.js from the pushed event
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[2] == WEIRD_FROM and cells[4] == WEIRD_AGENT
    page.wait_for_timeout(500)  # an injected <img src=x> would have failed to load by now
    page.screenshot(path=str(tmp_path / "xss-live.png"), full_page=True)
    assert page.locator("main img:not(#hour-chart)").count() == 0
    assert page.evaluate("window.__xss") is None
    for path in ["/dashboard/calls", f"/dashboard/calls/{call_id}", "/dashboard/agents"]:  # server-rendered
        page.goto(path)
        page.wait_for_timeout(300)
        text = page.inner_text("main")
        assert WEIRD_AGENT in text and (WEIRD_FROM in text or path == "/dashboard/agents")
        assert page.locator("main img:not(#hour-chart)").count() == 0 and page.evaluate("window.__xss") is None
    page.screenshot(path=str(tmp_path / "xss-history.png"), full_page=True)


def test_the_call_page_draws_the_call_and_the_calls_page_charts_the_hour(  # type: ignore[no-untyped-def]
    page, service: str, tmp_path: Path
) -> None:
    steps = [{"dtmf": "1"}, {"listen": 1.5}, {"say": "네"}, {"listen": "reply"}, {"say": "상담원"}, {"listen": 4}]
    script = write_script(tmp_path, {"voice": "ko", "steps": steps, "linger": 0.5, "max_seconds": 40})
    proc = start_call(service, script)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    call_id = json.loads(out)["call_id"]
    wait_for(lambda: get_call(service, call_id)["state"] == "ended", timeout=20)
    raw = requests.get(f"{service}/api/v1/calls/{call_id}", headers=HEADERS, timeout=5).text
    assert "상담원" in raw and "\\u" not in raw  # the API's JSON is readable too
    sign_in(page)
    page.goto(f"/dashboard/calls/{call_id}")
    lanes = page.locator("#lanes svg")
    assert lanes.locator("[data-seek]").count() >= 2  # the caller's turns, clickable
    html = lanes.inner_html()
    assert 'fill="#b45309"' in html  # the greeting, cut short by the caller's barge-in
    assert 'fill="#dc2626"' in html  # the handoff
    assert " ms</text>" in html  # a reply latency beside a turn
    button = page.locator("button[data-seek]").nth(1)
    seek = float(button.get_attribute("data-seek"))
    until(page, "document.getElementById('recording').readyState >= 1")
    button.click()
    until(page, f"Math.abs(document.getElementById('recording').currentTime - {seek}) < 0.5")
    text = page.locator("body").inner_text()
    assert "\\u" not in text and "상담원" in text  # Korean as Korean, never \uXXXX
    page.screenshot(path=str(tmp_path / "call-page.png"), full_page=True)
    page.goto("/dashboard/calls")
    until(
        page, "document.getElementById('hour-chart').complete && document.getElementById('hour-chart').naturalWidth > 0"
    )
    chart = requests.get(f"{service}/dashboard/charts/hour.svg", timeout=5)
    assert chart.status_code == 401  # the chart is for signed-in operators only
    page.screenshot(path=str(tmp_path / "calls-page.png"), full_page=True)
