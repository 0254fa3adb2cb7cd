"""What the platform is told to do: the PCMO for each moment of a call.

Pure functions of (agent, call id, config): the webhook and API views call
them, the stream session reuses them for mid-call PCMO.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from actions import PCMO
from app.config import MEDIA_DIR
from app.piopiy import signing
from app.urls import public_url
from streams.errors import NoTransferTarget
from streams.session.handoff import add_bridge
from streams.session.media_files import media_url


def stream_url(config: Mapping[str, Any], call_id: str) -> str:
    base = config.get("STREAM_BASE_URL") or public_url(config)  # the node chosen for the call, if any
    return signing.stream_url(base, config["SECRET_KEY"], call_id, int(config["STREAM_URL_TTL"]))


def input_url(config: Mapping[str, Any], call_id: str) -> str:
    return f"{public_url(config)}/webhooks/piopiy/input/{call_id}?token={quote(config['WEBHOOK_TOKEN'])}"


def media_ref(config: Mapping[str, Any], name: str) -> str:
    """A URL as is; a file we ship in media/ as our URL; else a file uploaded to Piopiy."""
    return media_url(public_url(config), MEDIA_DIR, name)


def stream_options(config: Mapping[str, Any], agent: Mapping[str, Any] | None) -> dict[str, Any]:
    chosen = dict((agent or {}).get("stream") or {})
    return {
        "listen_mode": chosen.get("listen_mode", config["STREAM_LISTEN_MODE"]),
        "voice_quality": str(chosen.get("voice_quality", config["STREAM_VOICE_QUALITY"])),
        "stream_on_answer": True,
    }


def stream_rate(config: Mapping[str, Any], agent: Mapping[str, Any] | None) -> int:
    """The rate the agent's calls stream at: the caller's audio arrives at it, ours goes out at it."""
    return int(stream_options(config, agent)["voice_quality"])


def add_stream(pcmo: PCMO, config: Mapping[str, Any], agent: Mapping[str, Any] | None, call_id: str) -> PCMO:
    return pcmo.stream(stream_url(config, call_id), stream_options(config, agent))


def _greeting(pcmo: PCMO, config: Mapping[str, Any], agent: Mapping[str, Any]) -> None:
    """Platform-side greeting; the default mode ("tts") is spoken by our own session instead."""
    if agent["greeting_mode"] == "speak" and agent["greeting"]:
        pcmo.speak(agent["greeting"])
    elif agent["greeting_mode"] == "play":
        pcmo.playMusic(media_ref(config, agent["greeting_file"]))


def answer_pcmo(config: Mapping[str, Any], agent: Mapping[str, Any] | None, call_id: str) -> list[dict[str, Any]]:
    """The answer webhook's PCMO: greeting, record, then the stream (or the DTMF menu)."""
    pcmo = PCMO()
    if agent is None:
        return pcmo.speak("This number is not configured yet. Goodbye.").hangup().PCMO()
    _greeting(pcmo, config, agent)
    if agent["record"]:
        pcmo.record()
    menu = agent.get("dtmf_menu")
    if menu:
        return menu_prompt(pcmo, config, agent, call_id).PCMO()
    return add_stream(pcmo, config, agent, call_id).PCMO()


def menu_prompt(pcmo: PCMO, config: Mapping[str, Any], agent: Mapping[str, Any], call_id: str) -> PCMO:
    menu = agent["dtmf_menu"]
    options = {"max_digit": menu["max_digit"], "max_retry": menu["max_retry"], "timeout": menu["timeout"]}
    return pcmo.playGetInput(input_url(config, call_id), media_ref(config, menu["prompt_file"]), options)


def bridge_to_human(pcmo: PCMO, config: Mapping[str, Any], agent: Mapping[str, Any] | None) -> PCMO:
    """Add the bridge to the agent's people (the same bridge a live call's transfer sends)."""
    return add_bridge(pcmo, (agent or {}).get("human"), config["PIOPIY_NUMBER"])


def menu_choice_pcmo(
    config: Mapping[str, Any], agent: Mapping[str, Any], call_id: str, digits: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """The PCMO for the digits a caller pressed; returns (what happened, PCMO)."""
    menu = agent["dtmf_menu"]
    choice = menu["options"].get(digits or "")
    pcmo = PCMO()
    if choice is None:
        pcmo.speak(agent["fallback"])
        return "invalid", menu_prompt(pcmo, config, agent, call_id).PCMO()
    if choice.get("say"):
        pcmo.speak(choice["say"])
    action = choice["action"]
    if action == "bot":
        add_stream(pcmo, config, agent, call_id)
    elif action == "transfer":
        try:
            bridge_to_human(pcmo, config, agent)
        except NoTransferTarget:  # nobody to ring: a polite goodbye, not a webhook error
            pcmo.speak(agent["goodbye"]).hangup()
    elif action == "hangup":
        pcmo.hangup()
    elif action == "play":
        pcmo.playMusic(media_ref(config, choice.get("file") or menu["prompt_file"]))
        menu_prompt(pcmo, config, agent, call_id)
    else:  # repeat
        menu_prompt(pcmo, config, agent, call_id)
    return action, pcmo.PCMO()


def outbound_pcmo(config: Mapping[str, Any], agent: Mapping[str, Any] | None, call_id: str) -> list[dict[str, Any]]:
    """An outbound call streams straight to us (recording is a call option)."""
    return add_stream(PCMO(), config, agent, call_id).PCMO()


def busy_pcmo() -> list[dict[str, Any]]:
    """Said when we are at MAX_CALLS: nobody waits on a line nobody will answer."""
    return PCMO().speak("All our lines are busy right now. Please call again in a few minutes.").hangup().PCMO()
