"""Users, password hashing (Argon2id) and opaque bearer tokens."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, insert, select, update

from core_server import clock, db
from core_server.auth.errors import AuthError, UnknownUser, WrongPassword
from core_server.auth.passwords import MINIMAL, PasswordPolicy
from core_server.auth.tables import tokens, users

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


def _user(row: object) -> User:
    return User(
        id=row.id,  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        display_name=row.display_name,  # type: ignore[attr-defined]
        role=row.role,  # type: ignore[attr-defined]
        active=bool(row.active),  # type: ignore[attr-defined]
        must_change_password=bool(row.must_change_password),  # type: ignore[attr-defined]
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
            )
        )
        row = conn.execute(select(users).where(users.c.username == username)).one()
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
) -> None:
    """The user's own new password. Every other session of theirs ends (one opened with the
    old password elsewhere, perhaps by someone who knew it); ``keep_token`` stays valid."""
    policy.check(password, username)
    with db.write(engine) as conn:
        row = conn.execute(select(users.c.id).where(users.c.username == username)).first()
        if row is None:
            raise UnknownUser(username)
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(password_hash=_hasher.hash(password), must_change_password=False)
        )
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
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(password_hash=_hasher.hash(password), must_change_password=True)
        )
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


def issue_token(engine: Engine, user: User, hours: float, idle_minutes: int | None = None) -> str:
    """A new token valid for ``hours``, and (for browser sessions) ending sooner after
    ``idle_minutes`` without use."""
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
            )
        )
    return token


def user_for_token(engine: Engine, token: str) -> User | None:
    digest = _digest(token)
    with db.read(engine) as conn:
        row = conn.execute(
            select(users, tokens.c.expires_at, tokens.c.idle_minutes, tokens.c.last_used_at)
            .join(tokens, tokens.c.user_fk == users.c.id)
            .where(tokens.c.token_sha256 == digest)
        ).first()
    if row is None or not row.active:
        return None
    now = clock.now()
    if row.expires_at < now:
        return None
    if row.idle_minutes and row.last_used_at is not None:
        idle = now - row.last_used_at
        if idle > timedelta(minutes=row.idle_minutes):
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
