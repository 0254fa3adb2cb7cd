"""Drop-in ``Action`` and ``StreamAction``: code written for the Piopiy SDK runs unchanged.

    from actions import StreamAction       # was: from piopiy... import StreamAction
    stream = StreamAction()
    stream.stream("wss://bot.example/stream", {"listen_mode": "callee", "voice_quality": 8000})
    stream.PCMO()   # the same JSON text piopiy 1.2.2 returns

Both classes have the SDK's methods with its argument names, defaults and
return values: builder methods return None, ``StreamAction.PCMO()`` returns JSON
text and empties the list, ``Action.PCMO()`` returns the list, the socket
messages (``pause`` ...) are JSON text with the SDK's spacing. Omitted options
get the SDK's defaults (``voice_quality`` the *string* "8000",
``stream_on_answer`` false, ``listen_mode`` "caller").

Where the SDK raises (NameError, or TypeError from its regexes), these raise
``PiopiyCompatError``: an ``ActionValidationError`` that is also a NameError, so
``except NameError`` written for the SDK still catches it. Where the SDK lets a
bad value through to the platform, these are deliberately stricter and raise
too (tests/unit/test_actions_sdk_compat.py lists each case):

- an options argument that is neither a dict, None nor the SDK's "none" sentinel
  (the SDK silently ignores it);
- unknown option keys, a ``ring_type`` other than "group", a non-integer or
  non-positive ``duration``, ``timeout``, ``loop`` or ``max_digit`` (at most 32),
  a negative ``max_retry`` (the SDK copies or drops them unchecked);
- ``listen_mode`` outside caller/callee/both, ``voice_quality`` outside
  8000/12000/16000/32000 (int or digit string), non-bool ``stream_on_answer``;
- phone numbers that are bools, strings, or not 7 to 16 digits, inside a list
  too, and an empty list of numbers (the SDK checks the type of a lone number
  only);
- empty text for ``speak``, empty file names, empty audio for ``playStream``,
  and a float ``sample_rate`` (the SDK accepts 8000.0).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from actions.builder import PCMO as _Builder
from actions.builder import PLAY_GET_INPUT_DEFAULTS
from actions.errors import ActionValidationError
from actions.messages import interrupt, pause, resume, stop, stream_audio
from actions.schemas import validate_action

# When is a string a URL? The SDK's answer decides between file_url and
# file_name, and which action_url it refuses, so this follows it (and is tested
# against it): http, https or ftp; a dotted host name, localhost, an IPv4 or IPv6
# address; an optional port; then nothing, "/", or a path or query with no spaces.
_LABEL = r"[0-9a-z](?:[0-9a-z-]{0,61}[0-9a-z])?"
_HOST = rf"(?:(?:{_LABEL}\.)+[0-9a-z-]{{2,}}\.?|localhost|\d{{1,3}}(?:\.\d{{1,3}}){{3}}|\[?[0-9a-f]*:[0-9a-f:]+\]?)"
_URL_RE = re.compile(rf"(?:https?|ftp)://{_HOST}(?::\d+)?(?:/?|[/?]\S+)", re.IGNORECASE)

_NO_OPTIONS = (None, "none")  # "none" is the SDK's own default value for options


def sdk_is_url(value: object) -> bool:
    """True when the Piopiy SDK would treat ``value`` as a URL."""
    return isinstance(value, str) and _URL_RE.fullmatch(value) is not None


class PiopiyCompatError(ActionValidationError, NameError):
    """Raised by ``Action``/``StreamAction`` where the SDK raises NameError (or is stricter)."""


def _fail(method: str, messages: dict[str, Any] | list[Any] | str) -> PiopiyCompatError:
    return PiopiyCompatError(messages, f"{method}() rejected its arguments")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _options(method: str, name: str, value: object) -> dict[str, Any] | None:
    """The options dict, or None for none; anything else is an error (the SDK ignores it)."""
    if value is None or (isinstance(value, str) and value in _NO_OPTIONS):
        return None
    if not isinstance(value, Mapping):
        raise _fail(method, {name: ["Must be a dict of options."]})
    return dict(value)


def _string(method: str, name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _fail(method, {name: ["Must be a string."]})
    return value


def _checked(method: str, build: Callable[[], Any]) -> Any:
    """Run ``build``, turning our validation error into the compat one."""
    try:
        return build()
    except ActionValidationError as exc:
        raise _fail(method, exc.messages) from None


class _SdkBuilder:
    """What the SDK's Action and StreamAction share. ``action`` is the list, as in the SDK."""

    def __init__(self) -> None:
        self.action: list[dict[str, Any]] = []

    def _add(self, method: str, action: dict[str, Any]) -> None:
        self.action.append(_checked(method, lambda: validate_action(action)))

    def _add_built(self, method: str, build: Callable[[_Builder], _Builder]) -> None:
        self.action.extend(_checked(method, lambda: build(_Builder()).PCMO()))

    def playMusic(self, file_name_or_url: str) -> None:  # noqa: N802 - the SDK's name
        """Play a file: ``file_url`` when the SDK deems it a URL, else ``file_name``."""
        source = _string("playMusic", "file_name_or_url", file_name_or_url)
        key = "file_url" if sdk_is_url(source) else "file_name"
        self._add("playMusic", {"action": "play", key: source})

    def speak(self, text: str) -> None:
        self._add("speak", {"action": "speak", "text": _string("speak", "text", text)})

    def setValue(self, text: str) -> None:  # noqa: N802 - the SDK's name
        self._add("setValue", {"action": "param", "text": _string("setValue", "text", text)})

    def record(self) -> None:
        self._add("record", {"action": "record"})

    def hangup(self) -> None:
        self._add("hangup", {"action": "hangup"})

    def call(self, to_or_array: int | list[int], piopiy_no: int, option: Mapping[str, Any] | None = None) -> None:
        """Bridge to one number or several. Numbers must be ints, as in the SDK."""
        numbers = to_or_array if isinstance(to_or_array, list) else [to_or_array]
        if not _is_int(piopiy_no) or not all(_is_int(n) for n in numbers):
            raise _fail("call", {"to_or_array/piopiy_no": ["Phone numbers must be integers."]})
        opts = _options("call", "option", option)
        self._add_built("call", lambda b: b.call(to_or_array, piopiy_no, opts))

    def stream(self, ws_url: str, options: Mapping[str, Any] | None = None) -> None:
        """Stream the call's audio to ``ws_url``; with options, the SDK's defaults fill the gaps."""
        url = _string("stream", "ws_url", ws_url)
        opts = _options("stream", "options", options)
        self._add_built("stream", lambda b: b.stream(url, opts))

    def clear(self) -> None:
        self.action = []


class Action(_SdkBuilder):
    """piopiy's ``Action``: builds the PCMO an answer webhook returns."""

    def input(self, action_url: str, option: Mapping[str, Any] | None = None) -> None:
        """Collect DTMF; the SDK refuses an ``action_url`` it does not deem a URL."""
        if not sdk_is_url(action_url):
            raise _fail("input", {"action_url": ["Must be an http(s) or ftp URL."]})
        opts = _options("input", "option", option)
        self._add_built("input", lambda b: b.input(action_url, opts))

    def playGetInput(  # noqa: N802 - the SDK's name
        self, action_url: str, music_file: str, option: Mapping[str, Any] | None = None
    ) -> None:
        """Play ``music_file`` (always in file_name, also in file_url when a URL) and collect DTMF."""
        if not sdk_is_url(action_url) or not isinstance(music_file, str):
            raise _fail("playGetInput", {"action_url/music_file": ["Need a URL and a file name or URL string."]})
        action: dict[str, Any] = {"action": "play_get_input", "action_url": action_url, "file_name": music_file}
        if sdk_is_url(music_file):
            action["file_url"] = music_file
        opts = _options("playGetInput", "option", option)
        if opts is not None:
            action.update({**PLAY_GET_INPUT_DEFAULTS, **opts})
        self._add("playGetInput", action)

    def PCMO(self) -> list[dict[str, Any]]:  # noqa: N802 - the SDK's name
        """The actions so far. Unlike the SDK, a copy: appending later does not change it."""
        return list(self.action)


class StreamAction(_SdkBuilder):
    """piopiy's ``StreamAction``: a PCMO as JSON text, plus the stream socket's messages."""

    def pause(self) -> str:
        return json.dumps(pause())

    def interrupt(self) -> str:
        return json.dumps(interrupt())

    def resume(self) -> str:
        return json.dumps(resume())

    def stop(self) -> str:
        return json.dumps(stop())

    def playStream(self, *, audio_base64: str, audio_type: str, sample_rate: int) -> str:  # noqa: N802 - the SDK's name
        """A ``streamAudio`` message as JSON text; ``audio_base64`` must be a base64 string."""
        audio = _string("playStream", "audio_base64", audio_base64)
        return json.dumps(_checked("playStream", lambda: stream_audio(audio, audio_type, sample_rate)))

    def PCMO(self) -> str:  # noqa: N802 - the SDK's name
        """The actions as JSON text; the list is emptied, as the SDK does."""
        text = json.dumps(self.action)
        self.clear()
        return text
