"""Dashboard sign-ins, kept server-side: a session cookie is good only while its sign-in is open.

A signed cookie alone stays valid until it expires, whatever happens on the server: signing
out, changing the password, restarting. So each sign-in is a row (keyed by the SHA-256 of a
random token the cookie carries, never the token itself) that records when it expires and
the password it was made with (as an HMAC mark, see ``password_mark``). Signing out ends the
row, "sign out everywhere" ends them all, and a changed ``DASHBOARD_PASSWORD`` no longer
matches any row's mark. Every worker and host sharing the database sees the same answer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import sqlalchemy as sa

from app.storage.db import Database
from app.storage.tables import sign_ins


def password_mark(secret_key: str, user: str, password: str) -> str:
    """An HMAC of the account's user name and password under SECRET_KEY: it changes when either does,
    and unlike a plain hash it cannot be tried against guesses without the key."""
    message = f"{user}\n{password}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_sign_in(db: Database, user: str, mark: str, lifetime: float, now: float | None = None) -> str:
    """Record a new sign-in good for ``lifetime`` seconds; returns the token for the session cookie."""
    now = time.time() if now is None else now
    token = secrets.token_urlsafe(32)
    row = {"id": _key(token), "user_name": user, "password_mark": mark, "created_at": now, "expires_at": now + lifetime}

    def work(conn: sa.Connection) -> None:
        conn.execute(sign_ins.delete().where(sign_ins.c.expires_at < now))  # the expired ones are forgotten
        conn.execute(sign_ins.insert().values(**row))

    db.write(work)
    return token


def is_open(db: Database, token: str, mark: str, now: float | None = None) -> bool:
    """The sign-in behind ``token`` is neither ended nor expired, and was made with the current password."""
    now = time.time() if now is None else now
    query = sa.select(sign_ins.c.password_mark).where(
        sign_ins.c.id == _key(token), sign_ins.c.ended_at.is_(None), sign_ins.c.expires_at > now
    )
    found = db.read(lambda conn: conn.execute(query).scalar())
    return found is not None and hmac.compare_digest(found, mark)


def end_sign_in(db: Database, token: str, now: float | None = None) -> None:
    """Sign-out: this sign-in's cookie (and every copy of it) is refused from now on."""
    statement = (
        sign_ins.update().where(sign_ins.c.id == _key(token)).values(ended_at=time.time() if now is None else now)
    )
    db.write(lambda conn: conn.execute(statement))


def end_all(db: Database, now: float | None = None) -> int:
    """ "Sign out everywhere": every open sign-in ends; returns how many there were."""
    statement = (
        sign_ins.update().where(sign_ins.c.ended_at.is_(None)).values(ended_at=time.time() if now is None else now)
    )
    return int(db.write(lambda conn: conn.execute(statement).rowcount))
