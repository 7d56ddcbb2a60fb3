"""Users and their bearer tokens."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    false,
    true,
)

from core_server.db import BigId, UtcDateTime, metadata

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False, server_default=""),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(32), nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("must_change_password", Boolean, nullable=False, server_default=false()),
    Column("created_at", UtcDateTime(), nullable=False),
    # Sign-in (docs/signin.md): "local" (our password) or "ldap" (a directory user's shadow:
    # no usable password here, role and name follow the directory at each sign-in).
    Column("source", String(16), nullable=False, server_default="local"),
    Column("password_changed_at", UtcDateTime(), nullable=True),
    # TOTP second factor: the base32 secret (set at enrolment, used once confirmed) and the
    # last time step accepted, so a code cannot be replayed.
    Column("totp_secret", String(64), nullable=True),
    Column("totp_enabled", Boolean, nullable=False, server_default=false()),
    Column("totp_last_step", BigInteger, nullable=True),
)

# The last passwords of each local user (Argon2 hashes), refused when chosen again.
password_history = Table(
    "password_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "user_fk", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("password_hash", String(255), nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
)

# One-time recovery codes for a user who lost the TOTP device (SHA-256 of each code).
recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "user_fk", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("code_sha256", String(64), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
)

# Opaque tokens, stored only as their SHA-256, so they can be revoked and work across
# several core processes.
tokens = Table(
    "tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user_fk", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    # Browser sessions end after this many minutes without a request; NULL: no idle limit
    # (programs' tokens). last_used_at is written at most once a minute.
    Column("idle_minutes", Integer, nullable=True),
    Column("last_used_at", UtcDateTime(), nullable=True),
    # Who opened it (the sessions list an administrator revokes from), and whether it is only
    # the half-way token between the password and the TOTP code (grants nothing else).
    Column("address", String(64), nullable=False, server_default=""),
    Column("user_agent", String(255), nullable=False, server_default=""),
    Column("pending", Boolean, nullable=False, server_default=false()),
)

# The audit trail: who saw or changed what. Append-only: the code offers no update or delete.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("username", String(64), nullable=True, index=True),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(255), nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default="{}"),
    Column("address", String(64), nullable=False, server_default=""),
)
