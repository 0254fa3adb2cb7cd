"""The schema's versioned migrations (Alembic), run when the service opens its database, or by hand.

``python -m app.storage.migrate`` (``make migrate``) upgrades ``DATABASE_URL`` to the newest
version and prints where it stands; ``--check`` only says whether it is up to date
(exit 1 when not). The service upgrades on start as well, so a deploy needs no
extra step; several nodes starting at once take turns (on PostgreSQL, an advisory
lock). A SQLite file made before migrations existed is adopted by the baseline
(its tables are kept as they are) and upgraded from there.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK_ID = 7_241_901_113  # the advisory lock nodes take while one of them migrates (any fixed number)


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def current(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``; one node at a time (PostgreSQL advisory lock)."""
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin otherwise
    with engine.connect() as conn:
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({LOCK_ID})")
            conn.commit()
        try:
            command.upgrade(alembic_config(conn), revision)
            conn.commit()
        finally:
            if postgres:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({LOCK_ID})")
                conn.commit()


def main(argv: list[str] | None = None) -> int:
    from app.config import load_config
    from app.storage.db import Database, DatabaseUnreachable
    from app.urls import safe_url

    parser = argparse.ArgumentParser(prog="python -m app.storage.migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 when an upgrade is due")
    parser.add_argument("--url", help="the database (default: DATABASE_URL)")
    args = parser.parse_args(argv)
    url = args.url or load_config()["DATABASE_URL"]
    try:
        db = Database(url, migrate=not args.check)
    except DatabaseUnreachable as exc:
        print(f"callstream: {exc}", file=sys.stderr)
        return 2
    now, newest = current(db.engine), head()
    print(f"{safe_url(url)}: at {now or 'no version'}, newest {newest}")
    db.close()
    return 0 if now == newest else 1


if __name__ == "__main__":
    sys.exit(main())
