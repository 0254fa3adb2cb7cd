"""The PCMO builder: the Piopiy SDK's method names, our validation.

    pcmo = PCMO().speak("Hello").stream("wss://host/stream/abc", listen_mode="both")
    pcmo.PCMO()  # -> [{"action": "speak", ...}, {"action": "stream", ...}]

Every method validates the action it adds and raises ActionValidationError with
field-level messages, so a bad PCMO never reaches the platform. The JSON equals
what piopiy 1.2.2's ``piopiy.action.Action`` emits for the same call (see
tests/unit/test_actions_builder.py); where we are stricter, the tests say so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from actions.fields import is_http_url
from actions.schemas import SCHEMAS, load_with, validate_action

# The SDK's defaults, applied when an options dict is given (as the SDK does).
STREAM_DEFAULTS = {"listen_mode": "caller", "voice_quality": "8000", "stream_on_answer": False}
BRIDGE_DEFAULTS = {"duration": 5400, "timeout": 40, "loop": 1}
INPUT_DEFAULTS = {"max_digit": 1, "timeout": 5}
PLAY_GET_INPUT_DEFAULTS = {"max_digit": 1, "max_retry": 3, "timeout": 5}


def _options(options: Mapping[str, Any] | None, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """Merge an SDK-style options dict with keyword options; None when neither was given."""
    if options is None and not kwargs:
        return None
    merged = dict(options or {})
    merged.update(kwargs)
    return merged


class PCMO:
    """An ordered list of PCMO actions under construction. Methods chain."""

    def __init__(self, actions: Iterable[Mapping[str, Any]] = ()) -> None:
        self._actions: list[dict[str, Any]] = []
        for action in actions:
            self.add(action)

    # -- the SDK's vocabulary -------------------------------------------------
    def stream(self, ws_url: str, options: Mapping[str, Any] | None = None, **kwargs: Any) -> PCMO:
        """Stream the call's audio to ``ws_url`` (ws:// or wss://)."""
        action: dict[str, Any] = {"action": "stream", "ws_url": ws_url}
        opts = _options(options, kwargs)
        if opts is not None:
            action.update({**STREAM_DEFAULTS, **opts})
        return self._append("stream", action)

    def playMusic(self, file_name_or_url: str) -> PCMO:  # noqa: N802 - the SDK's name
        """Play a file: ``file_url`` when given a URL, else ``file_name``."""
        key = "file_url" if isinstance(file_name_or_url, str) and is_http_url(file_name_or_url) else "file_name"
        return self._append("play", {"action": "play", key: file_name_or_url})

    def speak(self, text: str) -> PCMO:
        """Have the platform's own TTS say ``text``."""
        return self.add({"action": "speak", "text": text})

    def setValue(self, text: str) -> PCMO:  # noqa: N802 - the SDK's name
        """Set a value on the call; it comes back in later webhooks as extra_params."""
        return self.add({"action": "param", "text": text})

    def record(self) -> PCMO:
        return self.add({"action": "record"})

    def hangup(self) -> PCMO:
        return self.add({"action": "hangup"})

    def call(
        self,
        to_or_array: int | str | list[int | str],
        piopiy_no: int | str,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> PCMO:
        """Bridge the caller to one or more numbers (a transfer to a human)."""
        opts = _options(options, kwargs) or {}
        numbers = to_or_array if isinstance(to_or_array, list) else [to_or_array]
        action: dict[str, Any] = {
            "action": "bridge",
            "from": piopiy_no,
            "connect": [{"type": "pstn", "number": n} for n in numbers],
            **BRIDGE_DEFAULTS,
        }
        # Options ride in the action, so an unknown or bad one fails with the rest.
        action.update(opts)
        return self._append("bridge", action)

    def input(self, action_url: str, options: Mapping[str, Any] | None = None, **kwargs: Any) -> PCMO:
        """Collect DTMF digits; the platform POSTs them to ``action_url``."""
        action: dict[str, Any] = {"action": "input", "action_url": action_url}
        opts = _options(options, kwargs)
        if opts is not None:
            action.update({**INPUT_DEFAULTS, **opts})
        return self._append("input", action)

    def playGetInput(  # noqa: N802 - the SDK's name
        self,
        action_url: str,
        music_file: str,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> PCMO:
        """Play a prompt and collect DTMF digits."""
        action: dict[str, Any] = {"action": "play_get_input", "action_url": action_url, "file_name": music_file}
        if isinstance(music_file, str) and is_http_url(music_file):
            action["file_url"] = music_file
        opts = _options(options, kwargs)
        if opts is not None:
            action.update({**PLAY_GET_INPUT_DEFAULTS, **opts})
        return self._append("play_get_input", action)

    def PCMO(self) -> list[dict[str, Any]]:  # noqa: N802 - the SDK's name
        """The actions so far, as a new list (the builder keeps them)."""
        return [dict(a) for a in self._actions]

    def clear(self) -> PCMO:
        self._actions = []
        return self

    # -- Pythonic aliases -----------------------------------------------------
    play = playMusic
    param = setValue
    set_value = setValue
    bridge = call
    transfer = call
    play_get_input = playGetInput

    # -- extras ---------------------------------------------------------------
    def add(self, action: Mapping[str, Any]) -> PCMO:
        """Append an action given as a PCMO object, after validating it."""
        self._actions.append(validate_action(dict(action)))
        return self

    def to_json(self) -> str:
        return json.dumps(self._actions, separators=(",", ":"))

    def __len__(self) -> int:
        return len(self._actions)

    def _append(self, name: str, action: dict[str, Any]) -> PCMO:
        self._actions.append(load_with(SCHEMAS[name], action))
        return self
