"""A user's sessions (browser sign-ins and API tokens): listed, revoked one by one or all.

A session is a row of ``tokens``; its public id is the first 16 hex digits of the token's
SHA-256 (the token itself is never stored, and this id cannot be turned back into it).
Revoking deletes the row, so the very next request made with it is refused (401): no cache
stands between a request and the table. Half-way tokens (password given, TOTP code not yet)
are not sessions and are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, false, select

from core_server import clock, db
from core_server.auth.errors import UnknownUser
from core_server.auth.tables import tokens, users
from core_server.auth.users import _digest
from core_server.refusals import NotFound

ID_LENGTH = 16


@dataclass(frozen=True)
class Session:
    id: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    address: str
    user_agent: str
    browser: bool  # a sign-in page session (idle limit), else a program's token

    def as_dict(self, current_id: str = "") -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": clock.iso(self.created_at),
            "last_used_at": clock.iso(self.last_used_at) if self.last_used_at else None,
            "expires_at": clock.iso(self.expires_at),
            "address": self.address,
            "user_agent": self.user_agent,
            "browser": self.browser,
            "current": self.id == current_id,
        }


def session_id(token: str) -> str:
    """The public id of the session ``token`` opened."""
    return _digest(token)[:ID_LENGTH]


def _user_id(conn: Any, username: str) -> int:
    found = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
    if found is None:
        raise UnknownUser(username)
    return int(found)


def list_sessions(engine: Engine, username: str) -> list[Session]:
    """The user's sessions that have not expired, last used first."""
    now = clock.now()
    with db.read(engine) as conn:
        user_id = _user_id(conn, username)
        rows = conn.execute(
            select(tokens)
            .where(
                tokens.c.user_fk == user_id,
                tokens.c.pending == false(),
                tokens.c.expires_at >= now,
            )
            .order_by(tokens.c.last_used_at.desc(), tokens.c.created_at.desc())
        ).all()
    return [
        Session(
            id=row.token_sha256[:ID_LENGTH],
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            address=row.address,
            user_agent=row.user_agent,
            browser=row.idle_minutes is not None,
        )
        for row in rows
    ]


def revoke_session(engine: Engine, username: str, sid: str) -> None:
    """End one session of the user (``NotFound`` if it is not theirs or already over)."""
    if len(sid) != ID_LENGTH or not all(c in "0123456789abcdef" for c in sid):
        raise NotFound("auth.session.unknown")
    with db.write(engine) as conn:
        user_id = _user_id(conn, username)
        gone = conn.execute(
            delete(tokens).where(
                tokens.c.user_fk == user_id, tokens.c.token_sha256.startswith(sid, autoescape=True)
            )
        ).rowcount
    if not gone:
        raise NotFound("auth.session.unknown")


def revoke_all(engine: Engine, username: str, keep_token: str = "") -> int:
    """End every session of the user (but ``keep_token``'s); how many ended."""
    with db.write(engine) as conn:
        user_id = _user_id(conn, username)
        where = tokens.c.user_fk == user_id
        if keep_token:
            where = where & (tokens.c.token_sha256 != _digest(keep_token))
        return int(conn.execute(delete(tokens).where(where)).rowcount)
