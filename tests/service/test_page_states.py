"""Every page state in a real browser (#24.6): empty, live, ended, not understood, handoff, the softphone's end.

Debian's Chromium, headless, driven by Playwright, against a real service. The ended call is written
into the service's database by the storage's own journal (as a node that streamed it would). Screenshots
land in the test's temporary folder (printed) for a person to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.storage.calls import CallStore
from app.storage.db import Database
from app.storage.journal import Journal
from emulator.service import running_service
from streams.events import HandoffBriefed, HandoffStarted, ReplyTimed, Spoken, StateChanged, TranscriptLine, Turn
from streams.session.briefing import Memory, brief
from tests.conftest import ROOT, base_config
from tests.service.test_browser import FLAGS, PASSWORD, emulated_call, live_call, sign_in, until
from tests.support.streaming import wait_until_hearing

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a test requirement (make test)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[tuple[str, dict]]:
    tmp = tmp_path_factory.mktemp("states")
    config = base_config(tmp, "http://127.0.0.1:1", PUBLIC_URL="auto", DASHBOARD_USER="ops",
                         DASHBOARD_PASSWORD=PASSWORD, AGENTS_DIR=str(ROOT / "agents"))  # fmt: skip
    with running_service(config) as url:
        wait_until_hearing(url)
        yield url, config


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=[*FLAGS, "--use-fake-ui-for-media-stream",
                                          "--use-fake-device-for-media-stream"])  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser, setup, tmp_path: Path):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=setup[0], permissions=["microphone"], viewport={"width": 1200, "height": 800}
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    sign_in(page)
    yield page
    context.close()
    print(f"screenshots: {tmp_path}")


def test_1_the_empty_calls_page_says_so(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert page.is_visible("#no-live") and "No live calls right now." in page.inner_text("#live")
    assert "No calls yet." in page.inner_text("#history")
    page.screenshot(path=str(tmp_path / "calls-empty.png"), full_page=True)


def test_2_a_live_call_and_the_supervisors_words(page, setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = emulated_call(setup[0], tmp_path, [{"dtmf": "1"}, {"listen": 40}])
    try:
        call_id = live_call(setup[0])
        page.wait_for_selector(f'#live tr[data-call="{call_id}"]')
        assert not page.is_visible("#no-live")
        page.screenshot(path=str(tmp_path / "calls-live.png"), full_page=True)
        page.goto(f"/dashboard/calls/{call_id}")
        help_text = page.inner_text("#controls-card")
        assert "the bot leaves the call; the call itself goes on on the platform" in help_text
        page.fill('form[data-action="say"] input[name="text"]', "잠시만 기다려 주세요.")
        page.click('form[data-action="say"] button')
        until(page, "document.getElementById('status').textContent.startsWith('say:')")
        status = page.locator("#status")
        assert status.inner_text() == "say: queued: the bot says it next"
        assert '"utterance"' in status.get_attribute("title")  # the raw result only in the tooltip
        until(page, "document.querySelectorAll('#timeline li .what').length >= 3")
        assert "{" not in page.inner_text("#timeline .what >> nth=0")
        page.screenshot(path=str(tmp_path / "call-live.png"), full_page=True)
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def ended_call(config: dict) -> str:
    """A softphone call, written by the storage's journal: two turns not understood, one understood, a
    warm transfer that rang, then the call ended (the platform never said how the transfer went)."""
    store = CallStore(Database(config["DATABASE_URL"], migrate=False))
    journal = Journal(store)
    call = store.create(direction="browser", from_number=None, to_number=None, agent="demo-ko")
    cid, t = call["id"], call["created_at"] + 0.2
    memory = Memory()
    events = [StateChanged(call_id=cid, state="connecting", at=t), StateChanged(call_id=cid, state="live", at=t + 0.1),
              Spoken(call_id=cid, utterance=1, line_kind="greeting", text="안녕하세요. 네, 아니요, 또는 상담원이라고 "
                     "말씀하세요.", started_at=t + 0.3, ms=3800, at=t + 4.1)]  # fmt: skip
    for n, (text, ms, at) in enumerate([("", 1200, 6.0), ("", 900, 8.5), ("상담원", 700, 11.0)], start=1):
        line = TranscriptLine(call_id=cid, speaker="caller", text=text, at=t + at)
        turn = Turn(call_id=cid, n=n, text=text, confidence=0.9 if text else 0.0, intent="human" if text else None,
                    miss=not text, speech_ms=ms, ended_at=t + at - 0.4, waited_ms=400, at=t + at + 0.01)  # fmt: skip
        memory.observe(line)
        memory.observe(turn)
        events += [line, turn, ReplyTimed(call_id=cid, n=n, latency_ms=[302, 3174, 410][n - 1], at=t + at + 0.3)]
    events += [HandoffStarted(call_id=cid, numbers=["919000000003"], why="intent", at=t + 12),
               HandoffBriefed(call_id=cid, context=brief(memory, "intent", ["919000000003"]), at=t + 12.1),
               StateChanged(call_id=cid, state="handed_off", at=t + 12.2),
               TranscriptLine(call_id=cid, speaker="caller", text="", at=t + 14),
               StateChanged(call_id=cid, state="ended", reason="socket_closed", at=t + 20)]  # fmt: skip
    for event in events:
        journal(event)
    store.db.close()
    return cid


def test_3_an_ended_call_not_understood_with_a_handoff(page, setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    call_id = ended_call(setup[1])
    page.goto(f"/dashboard/calls/{call_id}")
    assert "softphone call from the dashboard" in page.inner_text("#parties")
    assert page.inner_text("#state") == "ended" and page.get_attribute("#state", "data-state") == "ended"
    ended = page.locator("#end-reason span")
    assert "the platform closed the stream" in ended.inner_text() and ended.get_attribute("title").endswith(
        "socket_closed"
    )
    lines = page.locator("#transcript .line.caller").all_inner_texts()
    assert [line.split("\n")[-1].replace("caller", "", 1).strip() for line in lines] == [
        "(not understood, twice, 2.1 s of speech)", "상담원", "(not understood)"]  # fmt: skip
    assert "The caller also spoke twice without being understood." in page.inner_text("#brief")
    ring = page.inner_text("#ring")
    assert "ringing" not in ring and "the call ended before the platform said how the transfer went" in ring
    events = page.inner_text("#timeline")
    assert "The caller spoke for 1.2 s: not understood." in events and "miss:" not in events  # details folded
    page.click("#timeline summary >> nth=0")
    assert "state:" in page.inner_text("#timeline details[open]")
    page.click("#timeline summary >> nth=0")
    assert page.locator("#timeline details[open]").count() == 0
    assert not overlapping_labels(page), overlapping_labels(page)
    page.screenshot(path=str(tmp_path / "call-ended.png"), full_page=True)


def overlapping_labels(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Pairs of text labels in the timeline picture whose boxes intersect (as the browser laid them out)."""
    return page.evaluate("""() => {
      const boxes = [...document.querySelectorAll('#lanes svg text')].map((t) => [t.getBBox(), t.textContent]);
      const hits = [];
      boxes.forEach(([a, ta], i) => boxes.slice(i + 1).forEach(([b, tb]) => {
        if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) {
          hits.push(ta + ' / ' + tb);
        }
      }));
      return hits;
    }""")


def test_4_the_agents_page_and_the_softphones_end_in_words(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto("/dashboard/agents")
    table = page.inner_text("table")
    assert "165 words a minute" in table and "(165)" not in table
    page.screenshot(path=str(tmp_path / "agents.png"), full_page=True)
    page.goto("/dashboard/softphone")
    page.select_option("#agent", "demo-ko")
    page.click("#dial")
    until(page, "window.softphone.state === 'live'")
    page.wait_for_timeout(1500)
    page.click("#hangup")
    until(page, "window.softphone.state === 'ended'")
    until(page, "!document.getElementById('status').textContent.startsWith('Connected')")
    status = page.locator("#status")
    assert status.inner_text() == "The call ended." and "(" not in status.inner_text()
    assert "close code" in status.get_attribute("title")
    page.screenshot(path=str(tmp_path / "softphone-ended.png"), full_page=True)
