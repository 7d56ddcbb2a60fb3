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

- **per account and address**, a lock: ``lock_failures`` failures of one account from one
  address (within ``lock_minutes``, since that pair's last success or the account's unlock)
  lock that pair for ``lock_minutes``. The owner at their own desk is not locked by someone
  guessing elsewhere; the guesser is stopped outright. (Settings ``signin_lock_failures``,
  ``signin_lock_minutes``.)

A try refused by any limit does not check the password, does not count as a failure and is
not written to the audit trail (a flood would otherwise write a row per request); it answers
429 with ``Retry-After``. A success, an administrator's password reset and the console's
``users unlock`` or ``users passwd`` (an ``user.unlock`` record) clear the account's backoff.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from core_server import clock, db
from core_server.auth import ldap, totp
from core_server.auth.audit import AuditAction, record_audit
from core_server.auth.errors import AuthError
from core_server.auth.tables import audit_events
from core_server.auth.users import (
    User,
    authenticate,
    directory_user,
    get_user,
    issue_token,
    password_changed_at,
    pending_user,
    require_password_change,
    revoke_token,
)

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


PENDING_MINUTES = 5  # to type the TOTP code after the password
# Written once when a pair locks (core_server/atna/codes.py maps it to a Security Alert).
LOGIN_LOCKED = "login.locked"


@dataclass(frozen=True)
class SignInOptions:
    """What the site's settings say about signing in (docs/signin.md)."""

    lock_failures: int = 5
    lock_minutes: int = 15
    totp_required_for_admins: bool = False
    password_max_age_days: int = 0
    directory: ldap.DirectoryConfig | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> SignInOptions:
        return cls(
            lock_failures=settings.signin_lock_failures,
            lock_minutes=settings.signin_lock_minutes,
            totp_required_for_admins=settings.totp_required_for_admins,
            password_max_age_days=settings.password_max_age_days,
            directory=ldap.DirectoryConfig.from_settings(settings),
        )


class SecondFactorRequired(AuthError):
    """The password was right; now the TOTP code (or, ``enrol``, first the enrolment the site
    requires). ``pending`` is the half-way token for :func:`complete_sign_in`."""

    status = 401

    def __init__(self, pending: str, enrol: bool) -> None:
        super().__init__("auth.totp.enrol_required" if enrol else "auth.totp.required")
        self.pending = pending
        self.enrol = enrol


def sign_in(
    engine: Engine,
    username: str,
    password: str,
    hours: float,
    *,
    address: str = "",
    via: str,
    idle_minutes: int | None = None,
    options: SignInOptions = SignInOptions(),
    user_agent: str = "",
    code: str = "",
) -> tuple[User, str]:
    """Check the password and issue a token, auditing the attempt either way. ``via`` says
    how ("password-form", "token-api") for the audit record; ``idle_minutes`` ends a browser
    session left unused that long. Raises :class:`SignInThrottled` before checking anything
    while a limit holds, ``WrongPassword`` for a wrong name or password,
    :class:`SecondFactorRequired` when a TOTP ``code`` is needed and was not given."""
    username = username[:64]
    _throttle(engine, username, address, options)
    user = _check_password(engine, username, password, address, via, options)
    enrol = not user.totp_enabled and options.totp_required_for_admins and user.role == "admin"
    if user.totp_enabled and code:
        _check_code(engine, user, code, address, via, options)
    elif user.totp_enabled or enrol:
        pending = issue_token(engine, user, PENDING_MINUTES / 60, address=address, pending=True)
        raise SecondFactorRequired(pending, enrol)
    return user, _open_session(engine, user, hours, idle_minutes, address, via, user_agent)


def complete_sign_in(
    engine: Engine,
    pending: str,
    code: str,
    hours: float,
    *,
    address: str = "",
    via: str,
    idle_minutes: int | None = None,
    options: SignInOptions = SignInOptions(),
    user_agent: str = "",
) -> tuple[User, str, list[str]]:
    """The second step: the half-way token and the code. For a user enrolling at sign-in
    (the code confirms the new secret), the recovery codes to show once; else []."""
    user = pending_user(engine, pending)
    if user is None:
        raise AuthError("auth.totp.expired", 401)
    _throttle(engine, user.username, address, options)
    recovery: list[str] = []
    if user.totp_enabled:
        _check_code(engine, user, code, address, via, options)
    else:
        try:
            recovery = totp.confirm(engine, user.username, code)
        except AuthError:
            _failed(engine, user.username, address, via, "totp", options)
            raise
        user = replace(user, totp_enabled=True)
    revoke_token(engine, pending)
    token = _open_session(engine, user, hours, idle_minutes, address, via, user_agent)
    return user, token, recovery


def _throttle(engine: Engine, username: str, address: str, options: SignInOptions) -> None:
    now = clock.now()
    wait = address_wait(engine, address, now)
    if wait > 0:
        log.info("sign-in from %s throttled for %.0f s (address)", address, wait)
        raise SignInThrottled("auth.signin.address_throttled", wait)
    wait = pair_wait(engine, username, address, options, now)
    if wait > 0:
        log.info("sign-in as %r from %s locked for %.0f s", username, address, wait)
        raise SignInThrottled("auth.signin.locked", wait)
    wait = account_wait(engine, username, now)
    if wait > 0:
        log.info("sign-in as %r from %s throttled for %.0f s", username, address, wait)
        raise SignInThrottled("auth.signin.throttled", wait)


def _check_password(
    engine: Engine, username: str, password: str, address: str, via: str, options: SignInOptions
) -> User:
    """A local account by its own password (also while the directory is down: the
    break-glass rule), any other name by the directory."""
    local = get_user(engine, username)
    try:
        if options.directory is None or (local is not None and local.source == "local"):
            user = authenticate(engine, username, password)
        else:
            found = ldap.authenticate(options.directory, username, password)
            user = directory_user(engine, username, found.display_name, found.role)
    except ldap.DirectoryDown:
        raise  # no one's fault: not a failure, no lockout
    except AuthError as exc:
        reason = "no-role" if isinstance(exc, ldap.NoRole) else "password"
        _failed(engine, username, address, via, reason, options)
        raise
    if user.source == "local" and options.password_max_age_days and not user.must_change_password:
        changed = password_changed_at(engine, username)
        if changed and clock.now() - changed > timedelta(days=options.password_max_age_days):
            require_password_change(engine, username)
            user = replace(user, must_change_password=True)
    return user


def _check_code(
    engine: Engine, user: User, code: str, address: str, via: str, options: SignInOptions
) -> None:
    try:
        kind = totp.verify(engine, user.username, code)
    except AuthError:
        _failed(engine, user.username, address, via, "totp", options)
        raise
    if kind == "recovery":
        log.warning("%s signed in with a recovery code", user.username)


def _failed(
    engine: Engine, username: str, address: str, via: str, reason: str, options: SignInOptions
) -> None:
    record_audit(
        engine,
        username=username,
        action=AuditAction.LOGIN_FAILED,
        detail={"via": via, "reason": reason},
        address=address,
    )
    _record_lock(engine, username[:64], address[:64], via, options)


def _record_lock(engine: Engine, name: str, where: str, via: str, options: SignInOptions) -> None:
    """The failure just recorded locked the pair: write ``login.locked`` once for this lock.
    Tries while locked are refused unrecorded, so the lock's first entry after its earliest
    counted failure is the one (two processes racing on the last failure may both write)."""
    if options.lock_failures < 1:
        return
    now = clock.now()
    window = timedelta(minutes=options.lock_minutes)
    count, first, last = _failures(engine, name, window, now, where)
    if count < options.lock_failures or first is None or last is None:
        return
    with db.read(engine) as conn:
        written = conn.execute(
            select(audit_events.c.id)
            .where(
                audit_events.c.action == LOGIN_LOCKED,
                audit_events.c.username == name,
                audit_events.c.address == where,
                audit_events.c.at >= first,
            )
            .limit(1)
        ).first()
    if written is not None:
        return
    log.warning("sign-in as %r from %s locked after %d failures", name, where, count)
    record_audit(
        engine,
        username=name,
        action=LOGIN_LOCKED,
        target=f"user:{name}",
        detail={
            "via": via,
            "reason": f"{count} failed sign-ins within {options.lock_minutes} min",
            "failures": count,
            "minutes": options.lock_minutes,
            "until": clock.iso(last + window),
        },
        address=where,
    )


@dataclass(frozen=True)
class Lock:
    """An (account, address) pair locked now, until ``until``."""

    username: str
    address: str
    since: datetime
    until: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "address": self.address,
            "since": clock.iso(self.since),
            "until": clock.iso(self.until),
        }


def current_locks(engine: Engine, options: SignInOptions = SignInOptions()) -> list[Lock]:
    """Every pair locked now (from the ``login.locked`` entries of the last lock period),
    newest first: what the users page shows with its unlock button."""
    now = clock.now()
    window = timedelta(minutes=options.lock_minutes)
    with db.read(engine) as conn:
        rows = conn.execute(
            select(audit_events.c.username, audit_events.c.address, audit_events.c.at)
            .where(audit_events.c.action == LOGIN_LOCKED, audit_events.c.at >= now - window)
            .order_by(audit_events.c.at.desc())
        ).all()
    locks: dict[tuple[str, str], Lock] = {}
    for row in rows:
        pair = (row.username or "", row.address)
        if pair in locks:
            continue
        wait = pair_wait(engine, pair[0], pair[1], options, now)
        if wait > 0:
            locks[pair] = Lock(pair[0], pair[1], row.at, now + timedelta(seconds=wait))
    return list(locks.values())


def _open_session(
    engine: Engine,
    user: User,
    hours: float,
    idle_minutes: int | None,
    address: str,
    via: str,
    user_agent: str,
) -> str:
    token = issue_token(engine, user, hours, idle_minutes, address=address, user_agent=user_agent)
    record_audit(
        engine,
        username=user.username,
        action=AuditAction.LOGIN_OK,
        detail={"via": via, "second_factor": user.totp_enabled, "source": user.source},
        address=address,
    )
    return token


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
    failures, _first, last = _failures(engine, username[:64], ACCOUNT_WINDOW, now)
    if failures < ACCOUNT_FREE_FAILURES or last is None:
        return 0.0
    delay = min(ACCOUNT_MAX_DELAY, ACCOUNT_FIRST_DELAY * 2 ** (failures - ACCOUNT_FREE_FAILURES))
    return max(0.0, (last + timedelta(seconds=delay) - now).total_seconds())


def pair_wait(
    engine: Engine,
    username: str,
    address: str,
    options: SignInOptions = SignInOptions(),
    now: datetime | None = None,
) -> float:
    """Seconds until ``username`` may be tried from ``address`` again (0: now)."""
    now = now or clock.now()
    window = timedelta(minutes=options.lock_minutes)
    count, _first, last = _failures(engine, username[:64], window, now, address[:64])
    if count < options.lock_failures or last is None:
        return 0.0
    return max(0.0, (last + window - now).total_seconds())


def _failures(
    engine: Engine, name: str, window: timedelta, now: datetime, where: str | None = None
) -> tuple[int, datetime | None, datetime | None]:
    """(failures, first, last) of ``name`` within ``window``, since its last success or the
    account's unlock; with ``where``, only those from that address (and that pair's success)."""
    recent = audit_events.c.at >= now - window
    mine = audit_events.c.username == name
    if where is not None:
        mine = mine & (audit_events.c.address == where)
    with db.read(engine) as conn:
        cleared = conn.execute(
            select(func.max(audit_events.c.at)).where(
                recent,
                (mine & (audit_events.c.action == AuditAction.LOGIN_OK))
                | (
                    (audit_events.c.target == f"user:{name}")
                    & (audit_events.c.action == AuditAction.USER_UNLOCK)
                ),
            )
        ).scalar_one()
        failed = recent & mine & (audit_events.c.action == AuditAction.LOGIN_FAILED)
        if cleared is not None:
            failed = failed & (audit_events.c.at > cleared)
        count, first, last = conn.execute(
            select(func.count(), func.min(audit_events.c.at), func.max(audit_events.c.at)).where(
                failed
            )
        ).one()
    return int(count), first, last
