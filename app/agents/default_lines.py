"""The lines an agent says when its file does not set them, in the languages of the shipped agents.

An agent of another language gets the English lines and a warning at load.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# The lines an agent says without being told to, in the languages of the shipped agents. An agent in
# another language that leaves them out gets English, with a warning at load.
DEFAULT_LINES: dict[str, dict[str, str]] = {
    "en": {
        "fallback": "Sorry, I did not catch that.",
        "goodbye": "Goodbye.",
        "hold_message": "Please hold while I connect you to a person.",
        "shutdown_message": "Sorry, we have to end this call now. Please call again in a minute.",
        "reprompt": "Are you still there?",
        "no_answer_message": "Sorry, nobody could take your call just now. Shall I try again?",
        "no_answer_goodbye": "Sorry, nobody is free to take your call. Please call again later. Goodbye.",
    },
    "ko": {
        "fallback": "죄송합니다. 잘 듣지 못했습니다.",
        "goodbye": "안녕히 계세요.",
        "hold_message": "상담원에게 연결해 드리겠습니다. 잠시만 기다려 주세요.",
        "shutdown_message": "죄송합니다. 지금 통화를 종료해야 합니다. 잠시 후 다시 걸어 주세요.",
        "reprompt": "아직 통화 중이신가요?",
        "no_answer_message": "죄송합니다. 지금 연결할 수 있는 상담원이 없습니다. 다시 연결해 드릴까요?",
        "no_answer_goodbye": "죄송합니다. 지금은 상담원이 모두 통화 중입니다. 나중에 다시 걸어 주세요.",
    },
}


def fill_default_lines(agent: dict[str, Any], file: str) -> dict[str, Any]:
    """Give the agent the default lines of its language for the ones it does not set."""
    language = agent["language"].lower()[:2]
    lines = DEFAULT_LINES.get(language)
    missing = [key for key in DEFAULT_LINES["en"] if key not in agent]
    if lines is None and missing:
        log.warning(
            "agent file %s: language %r has no default lines; %s will be said in English (set them in the file)",
            file,
            agent["language"],
            ", ".join(missing),
        )
    for key in missing:
        agent[key] = (lines or DEFAULT_LINES["en"])[key]
    return agent
