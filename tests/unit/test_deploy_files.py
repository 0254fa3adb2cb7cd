"""compose.yaml, read as compose would read it (no Docker here): the scaled-out shape the README describes."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.conftest import ROOT


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_two_nodes_share_one_postgresql_and_one_redis_each_with_its_own_url() -> None:
    services = compose()["services"]
    nodes = {name: s for name, s in services.items() if name.startswith("node")}
    assert len(nodes) == 2
    envs = [node["environment"] for node in nodes.values()]
    assert len({env["DATABASE_URL"] for env in envs}) == 1 and envs[0]["DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in envs[0]["DATABASE_URL"]
    assert {env["REDIS_URL"] for env in envs} == {"redis://redis:6379/0"}
    assert len({env["NODE_URL"] for env in envs}) == 2 and len({env["NODE_NAME"] for env in envs}) == 2
    for node in nodes.values():
        assert node["build"] == "." and node["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert node["depends_on"]["redis"]["condition"] == "service_healthy"
        assert int(node["stop_grace_period"].rstrip("s")) > 30  # GRACEFUL_TIMEOUT: live calls are ended first
    assert re.match(r"postgres:\d+-bookworm", services["postgres"]["image"]) and "healthcheck" in services["postgres"]
    assert services["redis"]["image"].startswith("redis:") and "healthcheck" in services["redis"]


def test_the_dockerfile_runs_as_a_user_and_checks_readiness() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER callstream$", text, re.M) and "/readyz" in text.split("HEALTHCHECK", 1)[1]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "models", ".env", ".git"} <= set(ignored)
