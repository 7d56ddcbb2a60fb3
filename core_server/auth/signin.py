"""Signing in and out with an audit record for each, and a lock after repeated failures.

The lock is read from the audit trail itself (failed sign-ins for that username in the last
``LOCK_MINUTES``), so it holds across several core processes and restarts without a second
counter to keep in step. A locked account answers like a wrong password plus a hint, whatever
password is tried, until the window has passed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from core_server import db
from core_server.auth.audit import AuditAction, record_audit
from core_server.auth.tables import audit_events
from core_server.auth.users import AuthError, User, authenticate, issue_token, revoke_token

MAX_FAILURES = 5
LOCK_MINUTES = 15


class AccountLocked(AuthError):
    """Too many failed sign-ins for this username lately."""


def sign_in(
    engine: Engine,
    username: str,
    password: str,
    hours: float,
    *,
    address: str = "",
    via: str,
    idle_minutes: int | None = None,
) -> tuple[User, str]:
    """Check the password and issue a token, auditing the attempt either way. ``via`` says
    how ("password-form", "token-api") for the audit record; ``idle_minutes`` ends a browser
    session left unused that long."""
    if _recent_failures(engine, username) >= MAX_FAILURES:
        record_audit(
            engine,
            username=username,
            action=AuditAction.LOGIN_FAILED,
            detail={"via": via, "reason": "locked"},
            address=address,
        )
        raise AccountLocked(
            f"too many failed sign-ins: try again in {LOCK_MINUTES} minutes or ask an administrator"
        )
    try:
        user = authenticate(engine, username, password)
    except AuthError:
        record_audit(
            engine,
            username=username[:64],
            action=AuditAction.LOGIN_FAILED,
            detail={"via": via, "reason": "password"},
            address=address,
        )
        raise
    token = issue_token(engine, user, hours, idle_minutes)
    record_audit(
        engine,
        username=user.username,
        action=AuditAction.LOGIN_OK,
        detail={"via": via},
        address=address,
    )
    return user, token


def sign_out(engine: Engine, user: User, token: str, *, address: str = "") -> None:
    revoke_token(engine, token)
    record_audit(engine, username=user.username, action=AuditAction.LOGOUT, address=address)


def _recent_failures(engine: Engine, username: str) -> int:
    """Failures within the lock window since the last success or administrator's unlock."""
    username = username[:64]
    since = datetime.now(UTC) - timedelta(minutes=LOCK_MINUTES)
    recent = audit_events.c.at >= since
    with db.read(engine) as conn:
        last_ok = conn.execute(
            select(func.max(audit_events.c.at)).where(
                recent,
                (
                    (audit_events.c.username == username)
                    & (audit_events.c.action == AuditAction.LOGIN_OK)
                )
                | (
                    (audit_events.c.target == f"user:{username}")
                    & (audit_events.c.action == AuditAction.USER_UNLOCK)
                ),
            )
        ).scalar_one()
        failed = (
            recent
            & (audit_events.c.username == username)
            & (audit_events.c.action == AuditAction.LOGIN_FAILED)
        )
        if last_ok is not None:
            failed = failed & (audit_events.c.at > last_ok)
        return int(
            conn.execute(select(func.count()).select_from(audit_events).where(failed)).scalar_one()
        )
