"""play file names are limited to what the platform accepts (#25, also noted): a 400, never sent as they are."""

from __future__ import annotations

import pytest

from actions import ActionValidationError, validate_action, validate_pipeline
from streams.session.media_files import is_plain_name

BAD = ["a\x00b.wav", "a\nb.wav", "tab\there.wav", "bell\x07.wav", "del\x7f.wav", "x\u2028y.wav", "../x.wav",
       "x/../y.wav", "/etc/passwd", "x//y.wav", "x\\y.wav", "..", ".", " ", "a" * 256]  # fmt: skip
GOOD = ["welcome.wav", "hold music.mp3", "환영합니다.wav", "a" * 255]
FOLDERS = ["path/to/your_audio_file.wav", "music/hold.mp3"]  # the SDK's own example plays the first


@pytest.mark.parametrize("name", BAD)
def test_a_file_name_the_platform_cannot_hold_is_refused_everywhere(name: str) -> None:
    with pytest.raises(ActionValidationError):
        validate_action({"action": "play", "file_name": name})
    with pytest.raises(ActionValidationError):
        validate_action({"action": "play_get_input", "action_url": "https://x.test/i", "file_name": name})
    with pytest.raises(ActionValidationError):
        validate_pipeline([{"action": "play", "file_name": name}])
    assert not is_plain_name(name)  # the play command (API, dashboard) and the media folder


@pytest.mark.parametrize("url", ["https://x.test/a\x00.wav", "https://x.test/a b.wav", "https://x.test/\r\nX: y"])
def test_a_url_with_spaces_or_control_characters_is_refused(url: str) -> None:
    with pytest.raises(ActionValidationError):
        validate_action({"action": "play", "file_url": url})


@pytest.mark.parametrize("name", GOOD)
def test_ordinary_file_names_pass(name: str) -> None:
    assert validate_action({"action": "play", "file_name": name})["file_name"] == name
    assert validate_pipeline([{"action": "play", "file_name": name}])[0]["file_name"] == name
    assert is_plain_name(name)


@pytest.mark.parametrize("name", FOLDERS)
def test_a_relative_path_goes_to_the_platform_but_never_reaches_our_media_folder(name: str) -> None:
    assert validate_action({"action": "play", "file_name": name})["file_name"] == name
    assert not is_plain_name(name)


def test_play_get_input_still_takes_a_url_as_its_file_name() -> None:
    url = "https://x.test/prompt.wav"
    action = {"action": "play_get_input", "action_url": "https://x.test/i", "file_name": url, "file_url": url}
    assert validate_action(action)["file_name"] == url
