"""actions/builder.py: our PCMO JSON equals piopiy 1.2.2's for every action and option combination.

The SDK is a test-only oracle (requirements-dev.txt); the product never imports it.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest
from piopiy.action import Action, StreamAction
from piopiy.voice import PiopiyValidationError, PipelineBuilder
from piopiy.voice.validators import validate_pipeline as sdk_validate_pipeline

from actions import PCMO, ActionValidationError, Pipeline, encode, interrupt, pause, resume, stop, stream_audio
from actions import validate_pipeline as our_validate_pipeline
from tests.support.sdk_oracle import ACTION_URL, FROM, TO, URL, WS


def same(build) -> None:
    """Run ``build`` on the SDK's Action and on our PCMO; the JSON must match."""
    theirs, ours = Action(), PCMO()
    build(theirs)
    build(ours)
    assert json.loads(json.dumps(ours.PCMO())) == theirs.PCMO()


STREAM_OPTIONS: list[dict[str, Any] | None] = [None, {}]
STREAM_OPTIONS += [
    {"listen_mode": mode, "voice_quality": quality, "stream_on_answer": on_answer}
    for mode, quality, on_answer in itertools.product(
        ("caller", "callee", "both"), (8000, "8000", 12000, 16000, "16000", 32000), (True, False)
    )
]
STREAM_OPTIONS += [{"listen_mode": "both"}, {"voice_quality": 16000}, {"stream_on_answer": True}]


@pytest.mark.parametrize("options", STREAM_OPTIONS)
def test_stream(options: dict[str, Any] | None) -> None:
    if options is None:
        same(lambda b: b.stream(WS))
    else:
        same(lambda b: b.stream(WS, options))


@pytest.mark.parametrize("source", ["hold.wav", "music/hold.mp3", URL, "http://media.example.test/a.mp3"])
def test_play_music(source: str) -> None:
    same(lambda b: b.playMusic(source))


@pytest.mark.parametrize("text", ["Hello", "नमस्ते", "안녕하세요", "a" * 500])
def test_speak_and_param(text: str) -> None:
    same(lambda b: b.speak(text))
    same(lambda b: b.setValue(text))


def test_record_and_hangup() -> None:
    same(lambda b: b.record())
    same(lambda b: b.hangup())


BRIDGE_OPTIONS: list[dict[str, Any] | None] = [
    None,
    {},
    {"duration": 60},
    {"timeout": 20},
    {"loop": 3},
    {"ring_type": "group"},
    {"duration": 120, "timeout": 25, "loop": 2, "ring_type": "group"},
]


@pytest.mark.parametrize("to", [TO, [TO], [TO, 919876543211, 919876543212]])
@pytest.mark.parametrize("options", BRIDGE_OPTIONS)
def test_call(to: Any, options: dict[str, Any] | None) -> None:
    if options is None:
        same(lambda b: b.call(to, FROM))
    else:
        same(lambda b: b.call(to, FROM, options))


@pytest.mark.parametrize("options", [None, {}, {"max_digit": 4}, {"timeout": 10}, {"max_digit": 2, "timeout": 8}])
def test_input(options: dict[str, Any] | None) -> None:
    if options is None:
        same(lambda b: b.input(ACTION_URL))
    else:
        same(lambda b: b.input(ACTION_URL, options))


@pytest.mark.parametrize("music", ["menu.wav", URL])
@pytest.mark.parametrize(
    "options",
    [None, {}, {"max_digit": 3}, {"max_retry": 1}, {"timeout": 9}, {"max_digit": 2, "max_retry": 0, "timeout": 4}],
)
def test_play_get_input(music: str, options: dict[str, Any] | None) -> None:
    if options is None:
        same(lambda b: b.playGetInput(ACTION_URL, music))
    else:
        same(lambda b: b.playGetInput(ACTION_URL, music, options))


def test_a_whole_pcmo_and_clear() -> None:
    def build(b: Any) -> None:
        b.speak("Welcome")
        b.record()
        b.playMusic(URL)
        b.stream(WS, {"listen_mode": "both", "voice_quality": 16000})
        b.call([TO, 919876543211], FROM, {"ring_type": "group"})
        b.hangup()

    same(build)
    ours = PCMO().speak("x")
    ours.clear()
    assert ours.PCMO() == []


def test_stream_action_pcmo_string_matches() -> None:
    """StreamAction.PCMO() returns a JSON string; ours serialises to the same JSON."""
    theirs = StreamAction()
    theirs.stream(WS, {"listen_mode": "caller"})
    theirs.playMusic("hold.wav")
    ours = PCMO().stream(WS, {"listen_mode": "caller"}).playMusic("hold.wav")
    assert json.loads(ours.to_json()) == json.loads(theirs.PCMO())


def test_pythonic_aliases_build_the_same_json() -> None:
    assert PCMO().play("a.wav").PCMO() == PCMO().playMusic("a.wav").PCMO()
    assert PCMO().transfer(TO, FROM).PCMO() == PCMO().call(TO, FROM).PCMO()
    assert PCMO().bridge([TO], FROM, ring_type="group").PCMO() == PCMO().call([TO], FROM, {"ring_type": "group"}).PCMO()
    assert PCMO().param("k=v").PCMO() == PCMO().setValue("k=v").PCMO()
    assert PCMO().stream(WS, listen_mode="both").PCMO() == PCMO().stream(WS, {"listen_mode": "both"}).PCMO()


# -- socket messages -------------------------------------------------------------------
def test_control_messages_match() -> None:
    sdk = StreamAction()
    assert json.loads(encode(pause())) == json.loads(sdk.pause())
    assert json.loads(encode(resume())) == json.loads(sdk.resume())
    assert json.loads(encode(stop())) == json.loads(sdk.stop())
    assert json.loads(encode(interrupt())) == json.loads(sdk.interrupt())


@pytest.mark.parametrize("audio_type", ["raw", "wav", "mp3", "ogg"])
@pytest.mark.parametrize("rate", [8000, 16000])
def test_stream_audio_matches_play_stream(audio_type: str, rate: int) -> None:
    audio = bytes(range(256)) * 3
    b64 = base64.b64encode(audio).decode()
    theirs = json.loads(StreamAction().playStream(audio_base64=b64, audio_type=audio_type, sample_rate=rate))
    assert json.loads(encode(stream_audio(audio, audio_type, rate))) == theirs
    assert json.loads(encode(stream_audio(b64, audio_type, rate))) == theirs


@pytest.mark.parametrize(
    "audio, audio_type, rate",
    [("not base64!", "raw", 8000), ("AAAA", "flac", 8000), ("AAAA", "raw", 44100), ("AAAA", "raw", 12000)],
)
def test_stream_audio_rejections_agree_with_the_sdk(audio: str, audio_type: str, rate: int) -> None:
    with pytest.raises(NameError):
        StreamAction().playStream(audio_base64=audio, audio_type=audio_type, sample_rate=rate)
    with pytest.raises(ActionValidationError):
        stream_audio(audio, audio_type, rate)


# -- v3 pipelines ----------------------------------------------------------------------
AGENT = "3f2b1c9e-8a7d-4e6f-9b0a-1c2d3e4f5a6b"
AGENT2 = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
SAY = {"type": "say", "say": "Press 1", "language": "en", "voice_id": "v1", "speed": 1.0}
ON_URL = {"type": "url", "url": "https://bot.example.test/next"}

GOOD_PIPELINES: list[list[dict[str, Any]]] = [
    [
        {
            "action": "connect",
            "params": {"caller_id": "919000000000"},
            "endpoints": [{"type": "pstn", "number": "919876543210"}],
        }
    ],
    [
        {
            "action": "connect",
            "params": {
                "caller_id": "919000000000",
                "strategy": "simultaneous",
                "options": {
                    "max_duration_sec": 600,
                    "ring_timeout_sec": 30,
                    "machine_detection": True,
                    "recording": {"enabled": True, "channels": "dual", "format": "mp3"},
                    "waiting_music": "m.wav",
                },
                "metadata": {"ticket": "A1", "priority": 2, "vip": True},
            },
            "endpoints": [
                {"type": "pstn", "number": "919876543210"},
                {"type": "sip", "uri": "sip:a@b", "headers": {"X": "1"}},
                {"type": "agent", "id": AGENT},
                {"type": "agent", "id": AGENT2},
            ],
        }
    ],
    [{"action": "play", "file_name": "hello.wav"}, {"action": "hangup"}],
    [
        {
            "action": "play_get_input",
            "prompt": {"type": "file", "file_name": "menu.wav"},
            "input": ["dtmf"],
            "on_result": ON_URL,
        }
    ],
    [
        {
            "action": "play_get_input",
            "prompt": SAY,
            "input": ["dtmf", "speech"],
            "dtmf": {
                "min_digits": 1,
                "max_digits": 4,
                "finish_on_key": "#",
                "first_digit_timeout": 5,
                "inter_digit_timeout": 2,
                "flush_buffer": True,
            },
            "retries": {"max": 2, "no_input_prompt": SAY, "invalid_prompt": {"type": "file", "file_name": "bad.wav"}},
            "on_result": {"type": "pcmo", "ref": "next"},
        }
    ],
    [{"action": "param", "data": {"a": "x", "b": 1, "c": 1.5, "d": False}}],
    [{"action": "record"}, {"action": "record", "format": "wav", "channels": "single"}],
    [{"action": "input", "on_result": ON_URL}, {"action": "input", "on_result": ON_URL, "dtmf": {"max_digits": 1}}],
]

BAD_PIPELINES: list[Any] = [
    [],
    "nope",
    [{"action": "stream", "ws_url": WS}],
    [{"action": "connect", "params": {"caller_id": "919000000000"}, "endpoints": []}],
    [{"action": "connect", "params": {"caller_id": "0919"}, "endpoints": [{"type": "pstn", "number": "919876543210"}]}],
    [
        {
            "action": "connect",
            "params": {"caller_id": 919000000000},
            "endpoints": [{"type": "pstn", "number": "919876543210"}],
        }
    ],
    [
        {
            "action": "connect",
            "params": {"caller_id": "919000000000", "strategy": "random"},
            "endpoints": [{"type": "pstn", "number": "919876543210"}],
        }
    ],
    [
        {
            "action": "connect",
            "params": {"caller_id": "919000000000"},
            "endpoints": [{"type": "agent", "id": AGENT}, {"type": "pstn", "number": "919876543210"}],
        }
    ],
    [
        {
            "action": "connect",
            "params": {"caller_id": "919000000000"},
            "endpoints": [
                {"type": "agent", "id": AGENT},
                {"type": "agent", "id": AGENT2},
                {"type": "agent", "id": AGENT},
            ],
        }
    ],
    [
        {
            "action": "connect",
            "params": {"caller_id": "919000000000"},
            "endpoints": [{"type": "agent", "id": "not-a-uuid"}],
        }
    ],
    [{"action": "connect", "params": {"caller_id": "919000000000"}, "endpoints": [{"type": "sip"}]}],
    [
        {
            "action": "connect",
            "params": {"caller_id": "919000000000", "options": {"max_duration_sec": 5}},
            "endpoints": [{"type": "pstn", "number": "919876543210"}],
        }
    ],
    [{"action": "play"}],
    [{"action": "play", "file_name": "a.wav", "extra": 1}],
    [{"action": "play_get_input", "prompt": {"type": "say", "say": "x"}, "input": ["dtmf"], "on_result": ON_URL}],
    [{"action": "play_get_input", "prompt": {"type": "file", "file_name": "m.wav"}, "input": [], "on_result": ON_URL}],
    [
        {
            "action": "play_get_input",
            "prompt": {"type": "file", "file_name": "m.wav"},
            "input": ["dtmf", "dtmf"],
            "on_result": ON_URL,
        }
    ],
    [
        {
            "action": "play_get_input",
            "prompt": {"type": "file", "file_name": "m.wav"},
            "input": ["voice"],
            "on_result": ON_URL,
        }
    ],
    [{"action": "play_get_input", "prompt": {**SAY, "speed": 3.0}, "input": ["dtmf"], "on_result": ON_URL}],
    [{"action": "input", "on_result": {"type": "url", "url": "ftp://x"}}],
    [{"action": "input", "on_result": {"type": "pcmo"}}],
    [{"action": "input", "on_result": ON_URL, "dtmf": {"finish_on_key": "##"}}],
    [{"action": "input", "on_result": ON_URL, "dtmf": {"max_digits": True}}],
    [{"action": "param", "data": {f"k{i}": i for i in range(11)}}],
    [{"action": "param", "data": {"1bad": "x"}}],
    [{"action": "param", "data": {"long": "x" * 257}}],
    [{"action": "param", "data": {"nested": {"a": 1}}}],
    [{"action": "record", "format": "ogg"}],
    [{"action": "record", "channels": "stereo"}],
    [{"action": "hangup", "reason": "x"}],
]


@pytest.mark.parametrize("pipeline", GOOD_PIPELINES)
def test_v3_good_pipelines_pass_both(pipeline: list[dict[str, Any]]) -> None:
    sdk_validate_pipeline(pipeline)
    assert our_validate_pipeline(pipeline) == pipeline


@pytest.mark.parametrize("pipeline", BAD_PIPELINES)
def test_v3_bad_pipelines_fail_both(pipeline: Any) -> None:
    with pytest.raises(PiopiyValidationError):
        sdk_validate_pipeline(pipeline)
    with pytest.raises(ActionValidationError):
        our_validate_pipeline(pipeline)


def test_v3_builder_matches_pipeline_builder() -> None:
    def build(b: Any) -> list[dict[str, Any]]:
        b.connect({"caller_id": "919000000000", "strategy": "sequential"}, [{"type": "pstn", "number": "919876543210"}])
        b.play("hello.wav")
        b.play_get_input(SAY, ["dtmf"], ON_URL, dtmf={"max_digits": 2}, retries={"max": 1})
        b.play_get_input({"type": "file", "file_name": "m.wav"}, ["speech"], {"type": "pcmo", "ref": "r"})
        b.param({"a": 1})
        b.record()
        b.record("mp3", "dual")
        b.input(ON_URL)
        b.input(ON_URL, {"min_digits": 1})
        b.hangup()
        return b.build()

    assert build(Pipeline()) == build(PipelineBuilder())
    assert Pipeline().hangup().clear().build() == PipelineBuilder().hangup().clear().build() == []


# -- where we are stricter than the SDK ------------------------------------------------
@pytest.mark.parametrize(
    "build, field",
    [
        (lambda b: b.stream("ws://"), "ws_url"),
        (lambda b: b.stream(WS, {"listen_mode": "everyone"}), "listen_mode"),
        (lambda b: b.stream(WS, {"voice_quality": 44100}), "voice_quality"),
        (lambda b: b.stream(WS, {"stream_on_answer": "yes"}), "stream_on_answer"),
        (lambda b: b.stream(WS, {"listen": "caller"}), "listen"),
        (lambda b: b.call([], FROM), "connect"),
        (lambda b: b.call(True, FROM), "connect"),
        (lambda b: b.call(TO, FROM, {"ring_type": "serial"}), "ring_type"),
        (lambda b: b.call(TO, FROM, {"timeout": "40"}), "timeout"),
        (lambda b: b.call(TO, FROM, {"retries": 2}), "retries"),
        (lambda b: b.input(ACTION_URL, {"max_digit": 0}), "max_digit"),
        (lambda b: b.playGetInput(ACTION_URL, "m.wav", {"max_retry": -1}), "max_retry"),
        (lambda b: b.speak(""), "text"),
    ],
)
def test_we_reject_what_the_sdk_lets_through(build, field: str) -> None:
    build(Action())  # the SDK accepts it...
    with pytest.raises(ActionValidationError) as caught:
        build(PCMO())  # ...we do not, and name the field
    assert field in json.dumps(caught.value.messages)


def test_digit_strings_are_numbers_for_us_but_not_the_sdk() -> None:
    with pytest.raises(NameError):
        Action().call("919876543210", FROM)
    ours = PCMO().call("919876543210", "+919000000000").PCMO()[0]
    assert ours["connect"] == [{"type": "pstn", "number": 919876543210}] and ours["from"] == FROM
