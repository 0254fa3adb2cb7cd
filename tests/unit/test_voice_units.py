"""The pure parts of the voice pipeline: turns, policies, the playback clock; and the LLM over real HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.agents.book import load_agents
from streams.audio import silence, tone
from streams.playback import Playback, Utterance, heard_prefix
from streams.turns.rules import SpeechStarted, TurnDetector, TurnEnded, TurnRule
from streams.turns.vad import EnergyVad
from streams.voice.dialogue import ScriptedPolicy, mentions
from streams.voice.llm import LLMPolicy
from tests.conftest import ROOT

RATE = 8000


def frames(pcm: bytes, size: int = 320) -> Iterator[bytes]:
    for start in range(0, len(pcm), size):
        yield pcm[start : start + size]


def run(detector: TurnDetector, pcm: bytes, t0: float = 0.0) -> tuple[list[Any], float]:
    events, t = [], t0
    for frame in frames(pcm):
        t += 0.02
        events += detector.feed(frame, t)
    return events, t


def test_a_turn_ends_after_the_hangover() -> None:
    detector = TurnDetector(RATE, TurnRule(hangover_ms=300))
    events, _ = run(detector, silence(RATE, 500) + tone(RATE, 600) + silence(RATE, 500))
    assert [type(e) for e in events] == [SpeechStarted, TurnEnded]
    start, end = events
    assert start.at == pytest.approx(0.52, abs=0.03)
    assert end.at == pytest.approx(1.1, abs=0.03) and end.speech_ms == pytest.approx(600, abs=40)


def test_short_pauses_do_not_end_a_turn_and_blips_are_not_speech() -> None:
    detector = TurnDetector(RATE, TurnRule(hangover_ms=300))
    pcm = (
        tone(RATE, 400)
        + silence(RATE, 200)
        + tone(RATE, 400)
        + silence(RATE, 400)
        + tone(RATE, 40)
        + silence(RATE, 400)
    )
    events, _ = run(detector, pcm)
    assert [type(e) for e in events] == [SpeechStarted, TurnEnded]


def test_a_noisy_line_raises_the_bar() -> None:
    detector = TurnDetector(RATE, TurnRule(hangover_ms=300), EnergyVad(500))
    hum = tone(RATE, 2000, freq=3000, amplitude=0.013)  # RMS ~300: under the floor, learned as noise
    events, t = run(detector, hum)
    assert events == [] and detector.vad.noise == pytest.approx(300, abs=20)
    quiet_voice = tone(RATE, 400, amplitude=0.03)  # RMS ~700: over the floor, under 3 x noise
    events, t = run(detector, quiet_voice, t)
    assert events == []
    clean = TurnDetector(RATE, TurnRule(hangover_ms=300), EnergyVad(500))
    assert [type(e) for e in run(clean, quiet_voice)[0]] == [SpeechStarted]


def demo_ko() -> dict[str, Any]:
    return load_agents(ROOT / "agents", "demo-ko").agents["demo-ko"]


def test_scripted_policy_intents_misses_and_handoff() -> None:
    policy = ScriptedPolicy(demo_ko())
    assert policy.greeting().reply.startswith("안녕하세요")
    yes = policy.on_turn("네", 1.0)
    assert yes.intent == "yes" and yes.reply and yes.action is None
    assert policy.on_turn("상담원", 0.97).action == "transfer"
    assert policy.on_turn("빠르게", 1.0).voice == "fast"
    assert policy.on_turn("안녕히 계세요", 1.0).action == "hangup"
    first = policy.on_turn("네", 0.3)  # too unsure: a miss
    assert first.miss and first.reply == demo_ko()["fallback"]
    second = policy.on_turn("", 0.0)
    assert second.miss and second.action == "transfer" and second.reason == "misses"  # max_misses: 2
    assert not policy.on_turn("아니요", 1.0).miss


def test_phrases_match_whole_words_only() -> None:
    assert mentions("yes please", "yes") and mentions("Yes!", "yes")
    assert not mentions("yesterday", "yes")
    assert mentions("안녕히 계세요", "안녕히 계세요")


class ChatServer:
    """A real OpenAI-compatible chat-completions endpoint on 127.0.0.1."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.reply: Any = "오늘은 맑습니다."
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                if server.delay:
                    import time

                    time.sleep(server.delay)
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": server.reply}}]}).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/chat/completions"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    server = ChatServer()
    yield server
    server.close()


def test_llm_policy_answers_what_no_intent_matches(chat: ChatServer) -> None:
    policy = LLMPolicy(demo_ko(), url=chat.url, model="tiny", api_key="k", timeout=2)
    policy.greeting()
    decision = policy.on_turn("오늘 날씨 어때요", 1.0)
    assert decision.reply == "오늘은 맑습니다." and decision.intent == "llm"
    sent = chat.requests[0]
    assert sent["auth"] == "Bearer k" and sent["body"]["model"] == "tiny"
    roles = [m["role"] for m in sent["body"]["messages"]]
    assert roles == ["system", "assistant", "user"] and "한국어" in sent["body"]["messages"][0]["content"]
    assert policy.on_turn("상담원", 1.0).action == "transfer"  # an intent wins; the model is not asked
    assert len(chat.requests) == 1


@pytest.mark.parametrize("trouble", ["status", "garbage", "slow"])
def test_llm_policy_falls_back_to_the_script(chat: ChatServer, trouble: str) -> None:
    if trouble == "status":
        chat.status = 500
    elif trouble == "garbage":
        chat.reply = {"not": "text"}
    else:
        chat.delay = 1.0
    policy = LLMPolicy(demo_ko(), url=chat.url, model="tiny", timeout=0.3)
    decision = policy.on_turn("오늘 날씨 어때요", 1.0)
    assert decision.miss and decision.reply == demo_ko()["fallback"] and policy.failures == 1


def test_playback_paces_and_knows_what_was_heard() -> None:
    playback = Playback(RATE, chunk_ms=100, lead_ms=200)
    utterance = Utterance(text="one two three four", pcm=bytearray(tone(RATE, 1000)))
    playback.enqueue(utterance)
    sent = []
    now = 10.0
    while (item := playback.next_chunk(now)) is not None:
        sent.append(item)
    assert len(sent) == 3  # 100 ms now, and up to 200 ms ahead
    assert [round(plays_at - now, 2) for _, _, plays_at in sent] == [0.0, 0.1, 0.2]
    assert all(len(chunk) == 1600 for _, chunk, _ in sent)
    assert playback.wait_hint(now) == pytest.approx(0.1)
    assert utterance.first_sent_at == now
    assert utterance.heard_ms(now + 0.15) == pytest.approx(150)
    cuts = playback.interrupt(now + 0.25)
    assert cuts[0]["heard_ms"] == 250 and cuts[0]["total_ms"] == 1000 and cuts[0]["heard_text"] == "one"
    assert playback.next_chunk(now + 0.3) is None and not playback.audible(now + 0.3)


def test_playback_sends_streamed_audio_in_whole_frames() -> None:
    playback = Playback(RATE, chunk_ms=100, lead_ms=200)
    utterance = Utterance(text="x", complete=False)
    playback.enqueue(utterance)
    utterance.append(b"\x01\x00" * 250)  # 500 bytes: one whole 320-byte frame so far
    _, chunk, _ = playback.next_chunk(0.0)
    assert len(chunk) == 320 and playback.next_chunk(0.0) is None and playback.audible(0.0)
    utterance.append(b"\x01\x00" * 10)
    utterance.finish(RATE)
    _, rest, _ = playback.next_chunk(0.0)
    assert len(rest) == 320  # the remainder, padded to a whole frame


def test_heard_prefix() -> None:
    assert heard_prefix("a b c d", 0.5) == "a b" and heard_prefix("a b c d", 0) == "" and heard_prefix("", 1) == ""
