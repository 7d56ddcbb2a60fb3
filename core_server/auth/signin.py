"""Signing in and out with an audit record for each, and a brake on guessing.

Two limits, both read from the audit trail itself (failed sign-ins are recorded there anyway),
so they hold across several core processes and restarts without a second counter to keep in
step:

- **per client address**, a sliding window: an address that failed ``ADDRESS_MAX_FAILURES``
  sign-ins (any user names) within ``ADDRESS_WINDOW`` must wait until the oldest of them
  leaves the window. One machine cannot try passwords quickly, whichever accounts it aims at.
- **per account**, a backoff that slows and never locks: after ``ACCOUNT_FREE_FAILURES``
  failures in a row (within ``ACCOUNT_WINDOW``, since the last success or unlock), each further
  try must wait ``ACCOUNT_FIRST_DELAY`` doubled per failure, at most ``ACCOUNT_MAX_DELAY``.
  Guessing from many addresses gets one try a minute; the account's owner, with the right
  password, gets in after at most that wait. An anonymous client can slow an account, never
  shut it (the old lock after 5 failures let anyone lock out any account, the last admin's
  too).

A try refused by either limit does not check the password, does not count as a failure and is
not written to the audit trail (a flood would otherwise write a row per request); it answers
429 with ``Retry-After``. A success, an administrator's password reset and the console's
``users unlock`` or ``users passwd`` (an ``user.unlock`` record) clear the account's backoff.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from core_server import clock, db
from core_server.auth.audit import AuditAction, record_audit
from core_server.auth.errors import AuthError
from core_server.auth.tables import audit_events
from core_server.auth.users import User, authenticate, issue_token, revoke_token

log = logging.getLogger(__name__)

ADDRESS_WINDOW = timedelta(minutes=10)
ADDRESS_MAX_FAILURES = 30
ACCOUNT_WINDOW = timedelta(minutes=15)
ACCOUNT_FREE_FAILURES = 5
ACCOUNT_FIRST_DELAY = 5.0  # seconds, after the free failures; doubles with each further one
ACCOUNT_MAX_DELAY = 60.0
# Kept for callers that read the old name: failures before the account is slowed.
MAX_FAILURES = ACCOUNT_FREE_FAILURES


class SignInThrottled(AuthError):
    """Too many failed sign-ins lately, for this account or from this address: try again in
    ``retry_after`` seconds."""

    status = 429

    def __init__(self, code: str, retry_after: float) -> None:
        super().__init__(code, retry_after=max(1, math.ceil(retry_after)))


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
    session left unused that long. Raises :class:`SignInThrottled` before checking anything
    while a limit holds, ``WrongPassword`` for a wrong name or password."""
    username = username[:64]
    now = clock.now()
    wait = address_wait(engine, address, now)
    if wait > 0:
        log.info("sign-in from %s throttled for %.0f s (address)", address, wait)
        raise SignInThrottled("auth.signin.address_throttled", wait)
    wait = account_wait(engine, username, now)
    if wait > 0:
        log.info("sign-in as %r from %s throttled for %.0f s", username, address, wait)
        raise SignInThrottled("auth.signin.throttled", wait)
    try:
        user = authenticate(engine, username, password)
    except AuthError:
        record_audit(
            engine,
            username=username,
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


def unlock(engine: Engine, username: str, *, by: str | None, address: str = "") -> None:
    """Clear the account's backoff now (the console, or an administrator's reset)."""
    record_audit(
        engine,
        username=by,
        action=AuditAction.USER_UNLOCK,
        target=f"user:{username[:64]}",
        address=address,
    )


def address_wait(engine: Engine, address: str, now: datetime | None = None) -> float:
    """Seconds until ``address`` may try again (0: now)."""
    if not address:
        return 0.0
    now = now or clock.now()
    since = now - ADDRESS_WINDOW
    failed = (
        (audit_events.c.at >= since)
        & (audit_events.c.action == AuditAction.LOGIN_FAILED)
        & (audit_events.c.address == address[:64])
    )
    with db.read(engine) as conn:
        times = list(
            conn.execute(
                select(audit_events.c.at)
                .where(failed)
                .order_by(audit_events.c.at.desc())
                .limit(ADDRESS_MAX_FAILURES)
            ).scalars()
        )
    if len(times) < ADDRESS_MAX_FAILURES:
        return 0.0
    # The window frees up when the oldest of the last MAX failures leaves it.
    return max(0.0, (times[-1] + ADDRESS_WINDOW - now).total_seconds())


def account_wait(engine: Engine, username: str, now: datetime | None = None) -> float:
    """Seconds until ``username`` may be tried again (0: now)."""
    now = now or clock.now()
    failures, last = _recent_failures(engine, username[:64], now)
    if failures < ACCOUNT_FREE_FAILURES or last is None:
        return 0.0
    delay = min(ACCOUNT_MAX_DELAY, ACCOUNT_FIRST_DELAY * 2 ** (failures - ACCOUNT_FREE_FAILURES))
    return max(0.0, (last + timedelta(seconds=delay) - now).total_seconds())


def _recent_failures(engine: Engine, username: str, now: datetime) -> tuple[int, datetime | None]:
    """(failures, time of the last one) within the window since the last success or unlock."""
    recent = audit_events.c.at >= now - ACCOUNT_WINDOW
    with db.read(engine) as conn:
        cleared = conn.execute(
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
        if cleared is not None:
            failed = failed & (audit_events.c.at > cleared)
        count, last = conn.execute(
            select(func.count(), func.max(audit_events.c.at)).where(failed)
        ).one()
    return int(count), last
