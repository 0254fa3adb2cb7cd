"""What `make run` / `callstream serve` start on a machine (#21.3): the launcher's plan, per configuration."""

from __future__ import annotations

from app.runtime.launcher import plan

NOTHING = {"REDIS_URL": "", "WEB_CONCURRENCY": ""}


def test_every_core_gets_a_worker_on_a_private_redis_when_nothing_is_configured() -> None:
    chosen = plan(NOTHING, 4.0, "/usr/bin/redis-server")
    assert (chosen.workers, chosen.private_redis) == (4, True)
    assert plan(NOTHING, 2.5, "/usr/bin/redis-server").workers == 2  # a cgroup quota of 2.5 cores: 2 workers


def test_what_is_configured_wins_and_one_core_or_no_redis_server_runs_one_worker() -> None:
    for config in ({**NOTHING, "REDIS_URL": "redis://r:6379/0"}, {**NOTHING, "WEB_CONCURRENCY": "3"}):
        assert plan(config, 8.0, "/usr/bin/redis-server").private_redis is False  # gunicorn.conf.py decides
    assert plan(NOTHING, 1.0, "/usr/bin/redis-server").private_redis is False
    alone = plan(NOTHING, 8.0, None)
    assert alone.private_redis is False and alone.workers is None and "apt-get install redis-server" in alone.note
