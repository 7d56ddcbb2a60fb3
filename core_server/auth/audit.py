"""The audit trail: who saw or changed what, and when.

Append-only by construction: this module offers recording and reading, nothing that updates or
deletes a row, and no route does either. Events are written in their own short transaction
(or inside the caller's, when given a ``Connection``) so a change and its audit record can
commit together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from core_server import clock, db
from core_server.auth.tables import audit_events


class AuditAction(StrEnum):
    """The actions the core itself records. Other domains may record their own dotted names
    (e.g. "report.sign", "dicomweb.study_viewed"); ``record_audit`` takes any string. Targets
    name their kind: ``user:<username>``, ``modality:<AE title>``, ``study:<Study Instance
    UID>``. The audit page labels an action with the catalogue key ``audit.<action>``."""

    LOGIN_OK = "login.ok"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"
    PASSWORD_CHANGE = "password.change"
    USER_CREATE = "user.create"
    USER_CHANGE = "user.change"
    USER_UNLOCK = "user.unlock"  # an administrator lifted a sign-in lock (or reset the password)
    MODALITY_CREATE = "modality.create"
    MODALITY_CHANGE = "modality.change"
    MODALITY_DELETE = "modality.delete"
    STUDY_SEARCH = "study.search"


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: datetime
    username: str | None
    action: str
    target: str
    detail: dict[str, Any]
    address: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": clock.iso(self.at),
            "username": self.username,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
            "address": self.address,
        }


def record_audit(
    engine: Engine | Connection,
    *,
    username: str | None,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    address: str = "",
) -> None:
    """Append one event. Given a ``Connection`` (inside ``db.write``), it joins that
    transaction; given an ``Engine``, it commits on its own before returning."""
    if not action:
        raise ValueError("an audit event names its action")
    values = {
        "at": clock.now(),
        "username": username[:64] if username is not None else None,
        "action": action[:64],
        "target": target[:255],
        "detail": json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str),
        "address": address[:64],
    }
    if isinstance(engine, Connection):
        engine.execute(insert(audit_events).values(**values))
        return
    with db.write(engine) as conn:
        conn.execute(insert(audit_events).values(**values))


def query_audit(
    engine: Engine,
    *,
    username: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[AuditEvent]]:
    """Events newest first, filtered; ``action`` ending in ``.`` matches a family
    (``"login."`` -> ok and failed). Returns (total matching, this page)."""
    conditions = []
    if username:
        conditions.append(audit_events.c.username == username)
    if action:
        if action.endswith("."):
            conditions.append(db.starts_with(audit_events.c.action, action))
        else:
            conditions.append(audit_events.c.action == action)
    if target:
        conditions.append(audit_events.c.target == target)
    if since is not None:
        conditions.append(audit_events.c.at >= since)
    if until is not None:
        conditions.append(audit_events.c.at < until)
    with db.read(engine) as conn:
        total = conn.execute(
            select(func.count()).select_from(audit_events).where(*conditions)
        ).scalar_one()
        rows = conn.execute(
            select(audit_events)
            .where(*conditions)
            .order_by(audit_events.c.at.desc(), audit_events.c.id.desc())
            .limit(max(1, min(limit, 1000)))
            .offset(max(0, offset))
        ).all()
    return total, [_event(r) for r in rows]


def audit_after(
    engine: Engine, after_id: int, limit: int = 200, *, until: datetime | None = None
) -> list[AuditEvent]:
    """Entries with an id above ``after_id``, oldest first, at most ``limit``; ``until``: only
    those written at or before it (a reader tailing the trail on PostgreSQL, where ids may
    commit out of order, leaves the last seconds for its next round)."""
    conditions = [audit_events.c.id > after_id]
    if until is not None:
        conditions.append(audit_events.c.at <= until)
    with db.read(engine) as conn:
        rows = conn.execute(
            select(audit_events).where(*conditions).order_by(audit_events.c.id).limit(max(1, limit))
        ).all()
    return [_event(r) for r in rows]


def audit_actions(engine: Engine) -> list[str]:
    """Every action recorded so far, for the audit page's filter."""
    with db.read(engine) as conn:
        return list(
            conn.execute(
                select(audit_events.c.action).distinct().order_by(audit_events.c.action)
            ).scalars()
        )


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        username=row.username,
        action=row.action,
        target=row.target,
        detail=json.loads(row.detail or "{}"),
        address=row.address,
    )
