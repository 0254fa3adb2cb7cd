"""``actions.Action``/``actions.StreamAction`` behave as piopiy 1.2.2's, text for text.

The SDK (piopiy.action) is the oracle: every comparison runs the same calls on
both and compares exact outputs (JSON text, not parsed JSON, so key order and
spacing count too).
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import io
import json
from collections.abc import Callable
from typing import Any

import piopiy.action as sdk
import pytest
from piopiy.underscore import isURL as sdk_isURL  # noqa: N812 - the SDK's name

import actions
from actions import Action, ActionValidationError, PiopiyCompatError, StreamAction
from actions.sdk_compat import sdk_is_url
from tests.support.sdk_oracle import ACTION_URL, FROM, TO, URL, WS

B64 = base64.b64encode(bytes(range(200))).decode()

# The usage example of seeds/004 (the SDK's STREAM_ACTION.md). Changed: the import
# line (RestClient is not ours, so the test supplies a recording stand-in), and
# the two things that keep the document's text from being Python at all: the
# placeholder numbers 91989xxxxxx / 9188xxxxxx, and the missing comma after
# stream.PCMO(). Everything else is verbatim.
SEED_EXAMPLE = """
{import_line}

def main():
    # Initialize Piopiy API client
    piopiy = RestClient("your_app_id", "your_app_token")

    # Create StreamAction instance
    stream = StreamAction()

    # Set up the stream with a WebSocket URL and configurations
    stream.stream(
        "wss://your-websocket-url/webhook/stream",
        {{
            'listen_mode': 'callee',  # Options: 'caller', 'callee', 'both'
            'voice_quality': 8000,  # Audio quality: '8000', '16000', '32000'
            'stream_on_answer': True  # Start streaming only when the call is answered
        }}
    )

    # Initiate a call with streaming enabled
    result = piopiy.voice.call(
        919890000000,  # First number to connect
        918800000000,   # PIOPIY Number
        stream.PCMO(),
        {{
            'loop': 1,        # Number of retry attempts
            'timeout': 40,    # Time to wait for the call to be answered
            'duration': 30    # Maximum call duration in seconds
        }}
    )

    print(result)

    # Play music or audio during the call
    stream.playMusic("path/to/your_audio_file.wav")

    # Pause the streaming
    print(stream.pause())

    # Resume the streaming
    print(stream.resume())

    # Stop the streaming
    print(stream.stop())

    # Hang up the call
    stream.hangup()

    # Output the final PCMO actions
    print(stream.PCMO())

if __name__ == '__main__':
    main()
"""

SDK_IMPORT = "from piopiy.action import StreamAction, Action"  # where 1.2.2 really has them
OUR_IMPORT = "from actions import StreamAction, Action"

STREAM_METHODS = ("stream", "playMusic", "speak", "setValue", "record", "hangup", "call", "pause", "resume", "stop")
STREAM_METHODS += ("interrupt", "playStream", "PCMO", "clear")


class FakeRestClient:
    """Stands in for piopiy's RestClient: records what the example sends."""

    sent: list[tuple[Any, ...]] = []

    def __init__(self, app_id: str, token: str) -> None:
        self.voice = self
        self.sent.append(("RestClient", app_id, token))

    def call(self, *args: Any) -> dict[str, str]:
        self.sent.append(("voice.call", *args))
        return {"status": "queued"}


def spy_on(cls: type, log: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Log every outermost call of ``cls``'s public methods: arguments, result, the action list after.

    Calls a method makes to another (the SDK's PCMO calls clear) are not logged:
    they are the implementation's business, not the caller's.
    """
    depth = [0]
    for name in STREAM_METHODS:
        original = getattr(cls, name)

        def spy(self: Any, *args: Any, _name: str = name, _original: Callable[..., Any] = original, **kw: Any) -> Any:
            depth[0] += 1
            try:
                result = _original(self, *args, **kw)
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                log.append((_name, args, kw, result, json.dumps(self.action)))
            return result

        monkeypatch.setattr(cls, name, spy)


def run_example(import_line: str, cls: type, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], str, list[Any]]:
    log: list[tuple[Any, ...]] = []
    FakeRestClient.sent = []
    with monkeypatch.context() as patch:
        spy_on(cls, log, patch)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(SEED_EXAMPLE.format(import_line=import_line), {"__name__": "__main__", "RestClient": FakeRestClient})
    return log, out.getvalue(), FakeRestClient.sent


def test_the_seed_example_runs_unchanged_and_every_output_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = run_example(SDK_IMPORT, sdk.StreamAction, monkeypatch)
    ours = run_example(OUR_IMPORT, StreamAction, monkeypatch)
    sdk_log, sdk_printed, sdk_sent = theirs
    # The spies saw every method the example uses, so the comparison is not vacuous.
    called = [entry[0] for entry in sdk_log]
    assert called == ["stream", "PCMO", "playMusic", "pause", "resume", "stop", "hangup", "PCMO"]
    assert len(sdk_printed.splitlines()) == 5 and sdk_sent[1][0] == "voice.call"
    for sdk_entry, our_entry in zip(sdk_log, ours[0], strict=True):
        assert our_entry == sdk_entry  # name, arguments, return value, action list after the call
    assert ours[1] == sdk_printed
    assert ours[2] == sdk_sent


def test_the_seed_import_line_itself_does_not_work_with_piopiy_1_2_2() -> None:
    """Why the SDK side of the test imports from piopiy.action: 1.2.2 no longer exports these."""
    with pytest.raises(ImportError):
        exec("from piopiy import RestClient, StreamAction, Action", {})


# -- same methods, same arguments ---------------------------------------------------------
def public_methods(cls: type) -> dict[str, list[tuple[str, Any]]]:
    return {
        name: [(p.name, p.kind) for p in inspect.signature(member).parameters.values()]
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize("ours, theirs", [(Action, sdk.Action), (StreamAction, sdk.StreamAction)])
def test_same_methods_with_the_same_parameters(ours: type, theirs: type) -> None:
    assert public_methods(ours) == public_methods(theirs)
    for name, member in inspect.getmembers(theirs, inspect.isfunction):
        for param in inspect.signature(member).parameters.values():
            our_default = inspect.signature(getattr(ours, name)).parameters[param.name].default
            # The SDK's "no options" default is the string "none"; ours is None, and "none" is accepted too.
            assert our_default == param.default or (param.default == "none" and our_default is None)


def test_exported_from_actions() -> None:
    assert actions.StreamAction is StreamAction and actions.Action is Action


# -- same output, text for text -------------------------------------------------------------
def stream_text(build: Callable[[Any], Any]) -> tuple[str, str]:
    theirs, ours = sdk.StreamAction(), StreamAction()
    build(theirs)
    build(ours)
    return ours.PCMO(), theirs.PCMO()


def action_text(build: Callable[[Any], Any]) -> tuple[str, str]:
    theirs, ours = sdk.Action(), Action()
    build(theirs)
    build(ours)
    return json.dumps(ours.PCMO()), json.dumps(theirs.PCMO())


def assert_same(build: Callable[[Any], Any]) -> None:
    ours, theirs = stream_text(build)
    assert ours == theirs
    ours, theirs = action_text(build)
    assert ours == theirs


STREAM_OPTIONS: list[Any] = [None, "none", {}, {"listen_mode": "both"}, {"stream_on_answer": True}]
STREAM_OPTIONS += [
    {"listen_mode": mode, "voice_quality": quality, "stream_on_answer": on_answer}
    for mode in ("caller", "callee", "both")
    for quality in (8000, 16000, 32000, "8000", "16000", "32000")
    for on_answer in (True, False)
]


@pytest.mark.parametrize("options", STREAM_OPTIONS)
def test_stream(options: Any) -> None:
    assert_same(lambda b: b.stream(WS) if options is None else b.stream(WS, options))


def test_stream_defaults_are_the_sdks_not_the_documents() -> None:
    """STREAM_ACTION.md says stream_on_answer defaults to True; the SDK writes false, and "8000" as a string."""
    ours = StreamAction()
    ours.stream(WS, {})
    assert json.loads(ours.PCMO()) == [
        {"action": "stream", "ws_url": WS, "listen_mode": "caller", "voice_quality": "8000", "stream_on_answer": False}
    ]


SOURCES = ["hold.wav", "path/to/your_audio_file.wav", URL, "http://localhost:8000/a.wav", "ftp://files.example.test/x"]
SOURCES += ["http://10.0.0.7/a.mp3", "http://media/a.wav", "https://my_host.example.test/a.wav"]


@pytest.mark.parametrize("source", SOURCES)
def test_play_music_picks_file_url_or_file_name_like_the_sdk(source: str) -> None:
    assert_same(lambda b: b.playMusic(source))


@pytest.mark.parametrize("text", ["Hello", "नमस्ते", 'quote " and \\ backslash', "a" * 300])
def test_speak_and_set_value(text: str) -> None:
    assert_same(lambda b: b.speak(text))
    assert_same(lambda b: b.setValue(text))


@pytest.mark.parametrize("to", [TO, [TO], [TO, 919876543211]])
@pytest.mark.parametrize(
    "option", [None, "none", {}, {"loop": 3}, {"ring_type": "group"}, {"duration": 30, "timeout": 20, "loop": 2}]
)
def test_call(to: Any, option: Any) -> None:
    assert_same(lambda b: b.call(to, FROM) if option is None else b.call(to, FROM, option))


def test_record_hangup_and_a_whole_pcmo() -> None:
    def build(b: Any) -> None:
        b.speak("Welcome")
        b.record()
        b.playMusic(URL)
        b.stream(WS, {"listen_mode": "both", "voice_quality": 16000})
        b.call([TO, 919876543211], FROM, {"ring_type": "group"})
        b.setValue("k=v")
        b.hangup()

    assert_same(build)


@pytest.mark.parametrize("option", [None, {}, {"max_digit": 4}, {"timeout": 10}])
def test_action_input(option: Any) -> None:
    ours, theirs = action_text(lambda b: b.input(ACTION_URL) if option is None else b.input(ACTION_URL, option))
    assert ours == theirs


@pytest.mark.parametrize("music", ["menu.wav", URL])
@pytest.mark.parametrize("option", [None, {}, {"max_retry": 1}, {"max_digit": 2, "max_retry": 0, "timeout": 4}])
def test_action_play_get_input(music: str, option: Any) -> None:
    def build(b: Any) -> None:
        b.playGetInput(ACTION_URL, music) if option is None else b.playGetInput(ACTION_URL, music, option)

    ours, theirs = action_text(build)
    assert ours == theirs


def test_socket_messages_are_the_sdks_text() -> None:
    ours, theirs = StreamAction(), sdk.StreamAction()
    for name in ("pause", "resume", "stop", "interrupt"):
        assert getattr(ours, name)() == getattr(theirs, name)()


@pytest.mark.parametrize("audio_type", ["raw", "wav", "mp3", "ogg"])
@pytest.mark.parametrize("rate", [8000, 16000])
def test_play_stream(audio_type: str, rate: int) -> None:
    kw = {"audio_base64": B64, "audio_type": audio_type, "sample_rate": rate}
    assert StreamAction().playStream(**kw) == sdk.StreamAction().playStream(**kw)


def test_pcmo_empties_a_stream_action_but_not_an_action() -> None:
    for cls in (StreamAction, sdk.StreamAction):
        s = cls()
        s.hangup()
        assert s.PCMO() == '[{"action": "hangup"}]' and s.PCMO() == "[]"
    for cls in (Action, sdk.Action):
        a = cls()
        a.hangup()
        assert a.PCMO() == a.PCMO() == [{"action": "hangup"}]
        a.clear()
        assert a.PCMO() == []


def test_action_pcmo_is_a_copy_unlike_the_sdk() -> None:
    ours = Action()
    first = ours.PCMO()
    ours.hangup()
    assert first == []


# -- where the SDK raises, we raise ---------------------------------------------------------
SDK_RAISES: list[tuple[str, Callable[[Any], Any]]] = [
    ("playMusic non-string", lambda b: b.playMusic(42)),
    ("speak non-string", lambda b: b.speak(None)),
    ("setValue non-string", lambda b: b.setValue(1)),
    ("call string number", lambda b: b.call("919876543210", FROM)),
    ("call string caller id", lambda b: b.call(TO, "919000000000")),
    ("call None", lambda b: b.call(None, FROM)),
    ("stream http url", lambda b: b.stream("https://bot.example.test/stream")),
    ("stream non-string", lambda b: b.stream(42)),
]
ACTION_RAISES: list[tuple[str, Callable[[Any], Any]]] = [
    ("input not a url", lambda b: b.input("/relative")),
    ("input dotless host", lambda b: b.input("http://bot/input")),
    ("playGetInput not a url", lambda b: b.playGetInput("x", "m.wav")),
    ("playGetInput non-string file", lambda b: b.playGetInput(ACTION_URL, 42)),
]
STREAM_RAISES: list[tuple[str, Callable[[Any], Any]]] = [
    ("bad base64", lambda b: b.playStream(audio_base64="not base64!", audio_type="raw", sample_rate=8000)),
    ("bytes audio", lambda b: b.playStream(audio_base64=b"\x00\x01", audio_type="raw", sample_rate=8000)),
    ("flac", lambda b: b.playStream(audio_base64=B64, audio_type="flac", sample_rate=8000)),
    ("32000 Hz", lambda b: b.playStream(audio_base64=B64, audio_type="raw", sample_rate=32000)),
]


def both_raise(cls: type, sdk_cls: type, build: Callable[[Any], Any]) -> PiopiyCompatError:
    with pytest.raises((NameError, TypeError)):
        build(sdk_cls())
    ours = cls()
    with pytest.raises(PiopiyCompatError) as caught:
        build(ours)
    assert ours.action == []  # nothing half-added
    return caught.value


@pytest.mark.parametrize("case, build", SDK_RAISES + STREAM_RAISES, ids=lambda v: v if isinstance(v, str) else "")
def test_stream_action_raises_where_the_sdk_does(case: str, build: Callable[[Any], Any]) -> None:
    error = both_raise(StreamAction, sdk.StreamAction, build)
    assert isinstance(error, ActionValidationError) and isinstance(error, NameError)
    assert "rejected its arguments" in str(error) and error.messages


@pytest.mark.parametrize("case, build", SDK_RAISES + ACTION_RAISES, ids=lambda v: v if isinstance(v, str) else "")
def test_action_raises_where_the_sdk_does(case: str, build: Callable[[Any], Any]) -> None:
    both_raise(Action, sdk.Action, build)


def test_except_name_error_written_for_the_sdk_still_catches() -> None:
    try:
        StreamAction().stream("http://not-a-socket.example.test")
    except NameError as exc:
        assert "ws_url" in json.dumps(exc.messages)  # type: ignore[attr-defined]
    else:
        pytest.fail("no error")


# -- where we are deliberately stricter (each one documented in actions/sdk_compat.py) ----------
STRICTER: list[tuple[str, Callable[[Any], Any]]] = [
    ("options not a dict", lambda b: b.stream(WS, ["callee"])),
    ("unknown listen_mode", lambda b: b.stream(WS, {"listen_mode": "everyone"})),
    ("voice_quality 44100", lambda b: b.stream(WS, {"voice_quality": 44100})),
    ("voice_quality float", lambda b: b.stream(WS, {"voice_quality": 8000.0})),
    ("stream_on_answer string", lambda b: b.stream(WS, {"stream_on_answer": "yes"})),
    ("unknown stream option", lambda b: b.stream(WS, {"listen": "caller"})),
    ("ring_type serial", lambda b: b.call(TO, FROM, {"ring_type": "serial"})),
    ("timeout string", lambda b: b.call(TO, FROM, {"timeout": "40"})),
    ("unknown call option", lambda b: b.call(TO, FROM, {"retries": 2})),
    ("empty number list", lambda b: b.call([], FROM)),
    ("strings in number list", lambda b: b.call(["919876543210"], FROM)),
    ("bool number", lambda b: b.call(True, FROM)),
    ("short number", lambda b: b.call(12, FROM)),
    ("empty speak", lambda b: b.speak("")),
    ("empty file name", lambda b: b.playMusic("")),
]
STREAM_STRICTER: list[tuple[str, Callable[[Any], Any]]] = [
    ("empty audio", lambda b: b.playStream(audio_base64="", audio_type="raw", sample_rate=8000)),
    ("float rate", lambda b: b.playStream(audio_base64=B64, audio_type="raw", sample_rate=8000.0)),
]
ACTION_STRICTER: list[tuple[str, Callable[[Any], Any]]] = [
    ("max_digit 0", lambda b: b.input(ACTION_URL, {"max_digit": 0})),
    ("max_retry -1", lambda b: b.playGetInput(ACTION_URL, "m.wav", {"max_retry": -1})),
    ("empty music file", lambda b: b.playGetInput(ACTION_URL, "")),
]


@pytest.mark.parametrize("case, build", STRICTER + STREAM_STRICTER, ids=lambda v: v if isinstance(v, str) else "")
def test_stream_action_is_stricter_than_the_sdk(case: str, build: Callable[[Any], Any]) -> None:
    build(sdk.StreamAction())  # the SDK lets it through...
    with pytest.raises(PiopiyCompatError):
        build(StreamAction())  # ...we do not


@pytest.mark.parametrize("case, build", STRICTER + ACTION_STRICTER, ids=lambda v: v if isinstance(v, str) else "")
def test_action_is_stricter_than_the_sdk(case: str, build: Callable[[Any], Any]) -> None:
    build(sdk.Action())
    with pytest.raises(PiopiyCompatError):
        build(Action())


# -- the URL rule ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    SOURCES
    + [ACTION_URL, "https://a.example.test", "https://a.example.test/", "https://a.example.test?x=1"]
    + ["https://a.example.test:8443/p", "http://127.0.0.1/x", "http://[::1]/x", "https://a.example.test/a b"]
    + ["https://a.b", "https://-a.example.test/", "mailto:x@y.test", "wss://a.example.test/", "", "https://"]
    + ["HTTPS://MEDIA.EXAMPLE.TEST/A.WAV", "https://a.example.test#frag", "https://xn--80ak6aa92e.test/"],
)
def test_url_rule_agrees_with_the_sdk(value: str) -> None:
    assert sdk_is_url(value) == sdk_isURL(value)
