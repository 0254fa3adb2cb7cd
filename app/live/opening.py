"""Opening a live call: its settings, media link, recorder and voice, from config and agent."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.config import MEDIA_DIR
from app.live.fetching import media_fetcher
from app.live.wiring import pipeline_factory
from app.piopiy import pcmo
from app.services import Services
from app.urls import public_url
from streams.events import Note
from streams.link.media_link import MediaLink
from streams.link.recorder import Recorder
from streams.link.settings import CallLog, LinkSettings
from streams.session.briefing import llm_summarizer
from streams.session.call import Call
from streams.session.media_files import MediaFiles
from streams.session.settings import CallSettings

log = logging.getLogger("streams.session.call")


def open_call(services: Services, call_id: str, agent: Mapping[str, Any] | None, outbound: bool = False) -> Call:
    """A new live call for ``call_id``, registered; the caller attaches its socket and starts it."""
    config = services.config
    rate = pcmo.stream_rate(config, agent)
    max_duration = float(config["MAX_CALL_SECONDS"])
    if agent and agent.get("max_duration"):
        max_duration = min(max_duration, float(agent["max_duration"]))
    link_settings = LinkSettings(
        rate=rate,
        max_frame_bytes=config["MAX_FRAME_BYTES"],
        lead_ms=config["PLAYBACK_LEAD_MS"],
        chunk_ms=config["AUDIO_CHUNK_MS"],
        audio=_audio_kind(config, agent),
        burst=config["STREAM_AUDIO_BURST"],
        flood=config["STREAM_AUDIO_FLOOD"],
    )
    recorder = (
        Recorder(Path(config["INSTANCE_DIR"]) / "recordings", call_id, rate, time.monotonic())
        if config["RECORD_CALLS"]
        else None
    )
    voice = services.voice
    call = Call(
        call_id,
        agent=agent,
        settings=CallSettings(
            idle_timeout=config["IDLE_TIMEOUT"],
            max_duration=max_duration,
            play_mode=config["PLAY_MODE"],
            caller_id=config["PIOPIY_NUMBER"],
            webhook_secret=config["WEBHOOK_SIGNING_SECRET"],
            webhook_retries=config["WEBHOOK_RETRIES"],
            reconnect_grace=config["STREAM_RECONNECT_GRACE"],
        ),
        link=MediaLink(link_settings, recorder=recorder, log=CallLog(log, {"call_id": call_id})),
        bus=services.bus,
        media=MediaFiles(MEDIA_DIR, public_url(config), media_fetcher(config), config["MEDIA_MAX_SECONDS"]),
        tts=voice.tts if voice is not None else None,
        make_voice=pipeline_factory(voice, agent or {}, outbound) if voice is not None else None,
        on_end=lambda ended: _forget(services, ended),
        summarize=(
            llm_summarizer(config["LLM_URL"], config["LLM_MODEL"], config["LLM_API_KEY"], config["LLM_TIMEOUT"])
            if config["LLM_URL"]
            else None
        ),
    )
    services.calls.add(call)
    if services.cluster is not None:
        services.cluster.claim(call_id)
        info = {"node": services.cluster.node_id, "url": services.cluster.node_url}
        services.bus.publish(Note(call_id=call_id, what="node", info=info))  # which node holds the socket
    return call


def _audio_kind(config: Mapping[str, Any], agent: Mapping[str, Any] | None) -> str:
    """What the module sends: the caller alone (mono), or with ``listen_mode: both`` mixed or stereo."""
    if pcmo.stream_options(config, agent)["listen_mode"] != "both":
        return "mono"
    return str(config["STREAM_BOTH_AUDIO"])


def _forget(services: Services, call: Call) -> None:
    services.calls.remove(call)
    if services.cluster is not None:
        services.cluster.release(call.call_id)
