"""Alembic's entry: migrations run on the connection app/storage/migrate.py hands over (or DATABASE_URL's)."""

from __future__ import annotations

from alembic import context

from app.storage.tables import metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # the plain `alembic` command line
        from app.config import load_config
        from app.storage.db import make_engine

        with make_engine(load_config()["DATABASE_URL"]).connect() as conn:
            _migrate(conn)
            conn.commit()
        return
    _migrate(connection)


def _migrate(connection) -> None:  # noqa: ANN001 - alembic's connection
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


run()
