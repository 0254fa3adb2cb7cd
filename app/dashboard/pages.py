"""The dashboard's pages: calls, one call, agents, the softphone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, redirect, render_template, request, url_for

from app.api.presenter import call_or_404, handoff_of
from app.api.schemas import CallListQuerySchema
from app.config import MEDIA_DIR
from app.dashboard import bp
from app.dashboard.auth import page
from app.dashboard.timeline import lanes, readable, svg
from app.dashboard.words import COMMAND_HELP, FIELD_HINTS, FILTERS, shown_transcript
from app.errors import NotFound
from app.runtime.readiness import has_model_for
from app.services import agents, is_live, registry, services, store
from app.storage.outbox import Outbox
from streams.session import commands

LIST_QUERY = CallListQuerySchema()
bp.add_app_template_filter(readable, "readable")
for _name, _filter in FILTERS.items():
    bp.add_app_template_filter(_filter, _name)


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    return redirect(url_for("dashboard.calls_page"))


@bp.get("/dashboard/calls")
@page
def calls_page():  # type: ignore[no-untyped-def]
    query = LIST_QUERY.load({k: v for k, v in request.args.items() if v})
    items, total = store().list(
        state=query.get("state"),
        direction=query.get("direction"),
        limit=query["per_page"],
        offset=(query["page"] - 1) * query["per_page"],
    )
    cluster = services().cluster
    ids = cluster.live_ids() if cluster is not None else registry().ids()
    live = [c for c in (store().get(cid) for cid in ids) if c]
    return render_template(
        "calls.html",
        calls=[_row(c) for c in items],
        live=[_row(c) for c in live],
        total=total,
        query=query,
        pages=max(1, -(-total // query["per_page"])),
    )


@bp.get("/dashboard/calls/<call_id>")
@page
def call_page(call_id: str):  # type: ignore[no-untyped-def]
    call = call_or_404(call_id)
    agent = agents().get(call["agent"]) or {}
    detail = _detail(call)
    picture = lanes(detail["timeline"])
    brief = next(
        (e["detail"].get("context") for e in reversed(detail["timeline"]) if e["kind"] == "handoff.brief"), None
    )
    return render_template(
        "call.html",
        call=detail,
        agent=agent,
        lanes_svg=svg(picture),
        turns=[s for s in picture.spans if s.lane == "caller" and s.seek is not None],  # pauses have no seek
        brief=brief,
        commands=[
            {**vars(c), "fields": c.form_fields(), "help": COMMAND_HELP.get(c.name, "")}
            for c in commands.REGISTRY.values()
        ],  # fmt: skip
        hints=FIELD_HINTS,
        human_numbers=",".join((agent.get("human") or {}).get("numbers", [])),
        media=sorted(p.name for p in MEDIA_DIR.glob("*") if p.is_file()),
    )


@bp.get("/dashboard/agents")
@page
def agents_page():  # type: ignore[no-untyped-def]
    book = agents()
    return render_template(
        "agents.html",
        agents=sorted(book.agents.values(), key=lambda a: a["name"]),
        deaf={name for name, a in book.agents.items() if not has_model_for(services(), a["language"])},
        errors=book.errors,
        default=book.default,
    )


@bp.get("/dashboard/agents/<name>")
@page
def agent_page(name: str):  # type: ignore[no-untyped-def]
    agent = agents().get(name)
    if agent is None:
        raise NotFound(f"No agent {name}.")
    source = (Path(current_app.config["AGENTS_DIR"]) / agent["file"]).read_text(encoding="utf-8")
    return render_template("agent.html", agent=agent, source=source)


@bp.get("/dashboard/softphone")
@page
def softphone_page():  # type: ignore[no-untyped-def]
    return render_template("softphone.html", agents=sorted(agents().agents), default=agents().default)


# -- data ---------------------------------------------------------------------------------------
def _row(call: dict[str, Any]) -> dict[str, Any]:
    lines = store().transcript(call["id"])
    return {**call, "live": is_live(call["id"]), "last_line": lines[-1]["text"] if lines else ""}


def _detail(call: dict[str, Any]) -> dict[str, Any]:
    calls = store()
    timeline = calls.timeline(call["id"])
    return {
        **_row(call),
        "timeline": timeline,
        "transcript": shown_transcript(calls.transcript(call["id"]), timeline),
        "handoff": handoff_of(call),
        "latencies": [e["detail"]["latency_ms"] for e in timeline if e["kind"] == "reply"],
        "recording": bool(call["extra"].get("recording")),
        "webhooks": [w for w in Outbox(calls.db).for_call(call["id"]) if w["state"] != "skipped"],  # #23.2
    }
