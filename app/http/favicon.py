"""The site icon at ``/favicon.ico``, where browsers look for it whatever the page links to."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, send_from_directory

bp = Blueprint("favicon", __name__)


@bp.get("/favicon.ico")
def favicon() -> Response:
    response = send_from_directory(current_app.static_folder or "static", "favicon.ico", mimetype="image/x-icon")
    response.cache_control.max_age = 86400
    response.cache_control.public = True
    return response
