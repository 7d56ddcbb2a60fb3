"""Users, password hashing (Argon2id) and opaque bearer tokens."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, false, func, insert, select, true, update

from core_server import clock, db
from core_server.auth.errors import AuthError, UnknownUser, WrongPassword
from core_server.auth.passwords import MINIMAL, PasswordPolicy
from core_server.auth.tables import password_history, tokens, users

log = logging.getLogger(__name__)

# The hospital's roles; each route names the roles it admits.
ROLES = (
    "admin",
    "registrar",
    "technician",
    "reporting_doctor",
    "reviewing_doctor",
    "department_head",  # 科主任: statistics, quality control, follow-up; reads images and reports
    "clinician",
    "device",
)
# Every role a person holds (all but the devices' key).
STAFF_ROLES = tuple(role for role in ROLES if role != "device")

_hasher = PasswordHasher()


def _known_role(role: str) -> None:
    if role not in ROLES:
        raise AuthError("auth.role.unknown", role=role, roles=", ".join(ROLES))


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    active: bool
    must_change_password: bool
    source: str = "local"  # or "ldap": a directory user's shadow (docs/signin.md)
    totp_enabled: bool = False


def _user(row: object) -> User:
    return User(
        id=row.id,  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        display_name=row.display_name,  # type: ignore[attr-defined]
        role=row.role,  # type: ignore[attr-defined]
        active=bool(row.active),  # type: ignore[attr-defined]
        must_change_password=bool(row.must_change_password),  # type: ignore[attr-defined]
        source=row.source,  # type: ignore[attr-defined]
        totp_enabled=bool(row.totp_enabled),  # type: ignore[attr-defined]
    )


def create_user(
    engine: Engine,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    must_change_password: bool = False,
    policy: PasswordPolicy = MINIMAL,
) -> User:
    """A new user. ``policy``: the site's password rules when a person chose the password
    (the routes and the console pass the configured one)."""
    _known_role(role)
    if not username or len(username) > 64 or username != username.strip():
        raise AuthError("auth.username.invalid")
    policy.check(password, username)
    with db.write(engine) as conn:
        if conn.execute(select(users.c.id).where(users.c.username == username)).first():
            raise AuthError("auth.user.exists", 409, username=username)
        conn.execute(
            insert(users).values(
                username=username,
                display_name=display_name,
                password_hash=_hasher.hash(password),
                role=role,
                must_change_password=must_change_password,
                created_at=clock.now(),
                password_changed_at=clock.now(),
            )
        )
        row = conn.execute(select(users).where(users.c.username == username)).one()
        _remember(conn, row.id, row.password_hash)
    return _user(row)


def list_users(engine: Engine) -> list[User]:
    with db.read(engine) as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.username))]


def set_password(
    engine: Engine,
    username: str,
    password: str,
    keep_token: str = "",
    policy: PasswordPolicy = MINIMAL,
    history: int = 0,
) -> None:
    """The user's own new password. Every other session of theirs ends (one opened with the
    old password elsewhere, perhaps by someone who knew it); ``keep_token`` stays valid.
    ``history``: none of the user's last that many passwords may come back."""
    policy.check(password, username)
    with db.write(engine) as conn:
        row = conn.execute(select(users.c.id).where(users.c.username == username)).first()
        if row is None:
            raise UnknownUser(username)
        if history and _reused(conn, row.id, password, history):
            raise AuthError("auth.password.reused", count=history)
        hashed = _hasher.hash(password)
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(
                password_hash=hashed, must_change_password=False, password_changed_at=clock.now()
            )
        )
        _remember(conn, row.id, hashed)
        conn.execute(
            delete(tokens).where(
                tokens.c.user_fk == row.id, tokens.c.token_sha256 != _digest(keep_token)
            )
        )


def reset_password(
    engine: Engine, username: str, password: str, policy: PasswordPolicy = MINIMAL
) -> None:
    """An administrator sets a temporary password: the user must change it at next sign-in,
    and every session they had ends."""
    policy.check(password, username)
    with db.write(engine) as conn:
        row = conn.execute(select(users.c.id).where(users.c.username == username)).first()
        if row is None:
            raise UnknownUser(username)
        hashed = _hasher.hash(password)
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(
                password_hash=hashed, must_change_password=True, password_changed_at=clock.now()
            )
        )
        _remember(conn, row.id, hashed)
        conn.execute(delete(tokens).where(tokens.c.user_fk == row.id))


def get_user(engine: Engine, username: str) -> User | None:
    with db.read(engine) as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    return _user(row) if row is not None else None


def update_user(
    engine: Engine,
    username: str,
    *,
    display_name: str | None = None,
    role: str | None = None,
    active: bool | None = None,
) -> User:
    """Change a user's name, role or whether they may sign in; a deactivated user's or
    re-roled user's sessions end at once."""
    if role is not None:
        _known_role(role)
    changes: dict[str, object] = {}
    if display_name is not None:
        changes["display_name"] = display_name[:128]
    if role is not None:
        changes["role"] = role
    if active is not None:
        changes["active"] = active
    with db.write(engine) as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is None:
            raise UnknownUser(username)
        if changes:
            conn.execute(update(users).where(users.c.id == row.id).values(**changes))
        if active is False or (role is not None and role != row.role):
            conn.execute(delete(tokens).where(tokens.c.user_fk == row.id))
        row = conn.execute(select(users).where(users.c.id == row.id)).one()
    return _user(row)


def authenticate(engine: Engine, username: str, password: str) -> User:
    with db.read(engine) as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    try:
        if row is None or not row.active:
            raise VerificationError
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise WrongPassword from None
    return _user(row)


# A session's last use is written at most this often: enough for an idle limit in minutes,
# without a database write for every request.
_TOUCH_SECONDS = 60
TOKEN_PREFIX = "pacs_"


def issue_token(
    engine: Engine,
    user: User,
    hours: float,
    idle_minutes: int | None = None,
    *,
    address: str = "",
    user_agent: str = "",
    pending: bool = False,
) -> str:
    """A new token valid for ``hours``, and (for browser sessions) ending sooner after
    ``idle_minutes`` without use. ``pending``: only the step from password to TOTP code
    (``user_for_token`` never accepts it)."""
    # The prefix makes a leaked token recognisable (secret scanners, logs) and keeps it from
    # starting with "-", which a command line would take for an option (device keys).
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    with db.write(engine) as conn:
        conn.execute(delete(tokens).where(tokens.c.expires_at < now))
        conn.execute(
            insert(tokens).values(
                token_sha256=_digest(token),
                user_fk=user.id,
                created_at=now,
                expires_at=now + timedelta(hours=hours),
                idle_minutes=idle_minutes or None,
                last_used_at=now,
                address=address[:64],
                user_agent=user_agent[:255],
                pending=pending,
            )
        )
    return token


def user_for_token(engine: Engine, token: str) -> User | None:
    digest = _digest(token)
    with db.read(engine) as conn:
        row = conn.execute(
            select(users, tokens.c.expires_at, tokens.c.idle_minutes, tokens.c.last_used_at)
            .join(tokens, tokens.c.user_fk == users.c.id)
            .where(tokens.c.token_sha256 == digest, tokens.c.pending == false())
        ).first()
    if row is None or not row.active:
        return None
    now = clock.now()
    if row.expires_at < now:
        return None
    if row.last_used_at is not None:
        # Every token's last use is kept (the sessions list); only browsers' end when idle.
        idle = now - row.last_used_at
        if row.idle_minutes and idle > timedelta(minutes=row.idle_minutes):
            return None
        if idle.total_seconds() > _TOUCH_SECONDS:
            with db.write(engine) as conn:
                conn.execute(
                    update(tokens).where(tokens.c.token_sha256 == digest).values(last_used_at=now)
                )
    return _user(row)


def revoke_token(engine: Engine, token: str) -> None:
    with db.write(engine) as conn:
        conn.execute(delete(tokens).where(tokens.c.token_sha256 == _digest(token)))


def ensure_initial_admin(
    engine: Engine, data_dir: Path, password: str | None, policy: PasswordPolicy = MINIMAL
) -> User | None:
    """On first start with no users: an ``admin`` whose password is the given one, or a random
    one written once to ``<data-dir>/initial-admin-password`` (mode 0600). A configured
    password the site's ``policy`` would refuse is taken (the operator chose it) with a
    warning in the log."""
    with db.read(engine) as conn:
        if conn.execute(select(func.count()).select_from(users)).scalar_one():
            return None
    generated = password is None
    if password is None:
        password = secrets.token_urlsafe(12)
        path = data_dir / "initial-admin-password"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        os.chmod(path, 0o600)
        log.warning("initial admin password written to %s", path)
    elif policy.problems(password, "admin"):
        log.warning(
            "the configured admin password breaks the password policy (%s): change it",
            ", ".join(policy.problems(password, "admin")),
        )
    return create_user(engine, "admin", password, "admin", "", must_change_password=generated)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _remember(conn: Connection, user_id: int, hashed: str, keep: int = 24) -> None:
    """Add a password to the user's history, keeping the last ``keep`` (the setting's most)."""
    conn.execute(
        insert(password_history).values(
            user_fk=user_id, password_hash=hashed, changed_at=clock.now()
        )
    )
    old = (
        select(password_history.c.id)
        .where(password_history.c.user_fk == user_id)
        .order_by(password_history.c.id.desc())
        .offset(keep)
    )
    conn.execute(delete(password_history).where(password_history.c.id.in_(old)))


def _reused(conn: Connection, user_id: int, password: str, history: int) -> bool:
    hashes = conn.execute(
        select(password_history.c.password_hash)
        .where(password_history.c.user_fk == user_id)
        .order_by(password_history.c.id.desc())
        .limit(history)
    ).scalars()
    for hashed in hashes:
        try:
            if _hasher.verify(hashed, password):
                return True
        except (VerificationError, InvalidHashError):
            continue
    return False


def password_changed_at(engine: Engine, username: str) -> datetime | None:
    """When the user's password was last set (their creation for rows from before)."""
    with db.read(engine) as conn:
        row = conn.execute(
            select(users.c.password_changed_at, users.c.created_at).where(
                users.c.username == username
            )
        ).first()
    return None if row is None else (row.password_changed_at or row.created_at)


def require_password_change(engine: Engine, username: str) -> None:
    with db.write(engine) as conn:
        conn.execute(
            update(users).where(users.c.username == username).values(must_change_password=True)
        )


NO_PASSWORD = "!directory"  # never a valid Argon2 hash: a shadow user has no local password


def directory_user(engine: Engine, username: str, display_name: str, role: str) -> User:
    """The local shadow of a directory user, created or brought in line with the directory
    (name, role: a changed role ends the user's other sessions). A shadow an administrator
    deactivated stays refused (``WrongPassword``)."""
    _known_role(role)
    with db.write(engine) as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is None:
            conn.execute(
                insert(users).values(
                    username=username,
                    display_name=display_name,
                    password_hash=NO_PASSWORD,
                    role=role,
                    source="ldap",
                    created_at=clock.now(),
                )
            )
        elif not row.active or row.source != "ldap":
            raise WrongPassword
        else:
            values = {"display_name": display_name or row.display_name, "role": role}
            conn.execute(update(users).where(users.c.id == row.id).values(**values))
            if role != row.role:
                conn.execute(delete(tokens).where(tokens.c.user_fk == row.id))
        row = conn.execute(select(users).where(users.c.username == username)).one()
    return _user(row)


def pending_user(engine: Engine, token: str) -> User | None:
    """The user a half-way (password given, code not yet) token stands for, if still valid."""
    with db.read(engine) as conn:
        row = conn.execute(
            select(users, tokens.c.expires_at)
            .join(tokens, tokens.c.user_fk == users.c.id)
            .where(tokens.c.token_sha256 == _digest(token), tokens.c.pending == true())
        ).first()
    if row is None or not row.active or row.expires_at < clock.now():
        return None
    return _user(row)
