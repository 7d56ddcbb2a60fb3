"""Enrolment by code: a device without a key asks for a short code (``K7P-4QX``) and shows it;
an administrator types it on the queue admin page, choosing the device's name, room, screen
and queues; the device's next poll (with the secret only it holds) receives its key and the
core's CA once.

Anonymous requests are bounded: each client address holds at most ``PER_CLIENT`` live codes
and the table at most ``MAX_LIVE``; expired rows are swept as new ones come. No counter of
failed attempts exists, so nobody can be locked out; a code is useless without the
administrator's confirmation, and the secret (32 random bytes, kept as its SHA-256) is what
collects the key.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Engine, Integer, String, Table, delete, func, insert, select, update

from core_server import clock, db
from core_server.db import UtcDateTime
from core_server.queueing import devices
from core_server.queueing.models import Device
from core_server.queueing.refusals import QueueRefusal, invalid

LIFETIME = timedelta(minutes=15)
PER_CLIENT = 3  # live codes one address may hold (a device restarting asks again)
MAX_LIVE = 100  # live codes in all (many more than devices installed in one go)
KEEP_EXPIRED = timedelta(hours=1)  # an expired code still answers "expired" this long
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a screen
LENGTH = 6

codes = Table(
    "queueing_enrolment_codes",
    db.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(8), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(48), nullable=False, server_default=""),  # the device's suggestion
    Column("hostname", String(64), nullable=False, server_default=""),
    Column("client", String(64), nullable=False, index=True),  # the address that asked
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("device_name", String(48)),
    Column("confirmed_by", String(64)),
    Column("confirmed_at", UtcDateTime),
    Column("delivered_at", UtcDateTime),
)


class TooMany(QueueRefusal):
    status = 429


class Expired(QueueRefusal):
    status = 410


class CodeNotFound(QueueRefusal):
    status = 404


@dataclass(frozen=True)
class Requested:
    code: str  # shown as K7P-4QX
    secret: str  # only the device knows it: it collects the key
    expires_at: datetime


def shown(code: str) -> str:
    return f"{code[:3]}-{code[3:]}"


def _normal(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _live(now: datetime) -> Any:
    return (codes.c.expires_at > now) & codes.c.delivered_at.is_(None)


def request_code(engine: Engine, kind: str, name: str, hostname: str, client: str) -> Requested:
    if kind not in devices.KINDS:
        raise invalid("device_kind", kinds=", ".join(devices.KINDS))
    now = clock.now()
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    secret = secrets.token_urlsafe(32)
    with db.write(engine) as conn:
        conn.execute(delete(codes).where(codes.c.expires_at < now - KEEP_EXPIRED))
        live = select(func.count()).select_from(codes).where(_live(now))
        if conn.execute(live.where(codes.c.client == client)).scalar_one() >= PER_CLIENT:
            raise TooMany("enrolment", "too_many_client", limit=PER_CLIENT)
        if conn.execute(live).scalar_one() >= MAX_LIVE:
            raise TooMany("enrolment", "too_many", limit=MAX_LIVE)
        if conn.execute(select(codes.c.id).where(codes.c.code == code)).first():
            raise TooMany("enrolment", "too_many", limit=MAX_LIVE)  # 1 in 887 million: ask again
        conn.execute(
            insert(codes).values(
                code=code,
                secret_hash=_hash(secret),
                kind=kind,
                name=name[:48],
                hostname=hostname[:64],
                client=client[:64],
                created_at=now,
                expires_at=now + LIFETIME,
            )
        )
    return Requested(shown(code), secret, now + LIFETIME)


def pending(engine: Engine) -> list[dict[str, Any]]:
    """The codes waiting for an administrator (no secret)."""
    now = clock.now()
    query = select(codes).where(_live(now) & codes.c.confirmed_by.is_(None))
    with db.read(engine) as conn:
        rows = conn.execute(query.order_by(codes.c.created_at)).all()
    return [
        {
            "code": shown(r.code),
            "kind": r.kind,
            "name": r.name,
            "hostname": r.hostname,
            "client": r.client,
            "created_at": clock.iso(r.created_at),
            "expires_at": clock.iso(r.expires_at),
        }
        for r in rows
    ]


def confirm(
    engine: Engine,
    code: str,
    confirmed_by: str,
    name: str,
    *,
    room: str | None = None,
    screen: str | None = None,
    queues: tuple[str, ...] = (),
) -> Device:
    """Create the device for a pending code (its key goes to the device's next poll)."""
    now, wanted = clock.now(), _normal(code)
    # Claimed by confirmed_by; confirmed_at only once the device exists, so a poll in
    # between still hears "pending" (it used to find no device to key: a 404 race).
    claim = (
        update(codes)
        .where((codes.c.code == wanted) & _live(now) & codes.c.confirmed_by.is_(None))
        .values(confirmed_by=confirmed_by, device_name=name)
    )
    with db.write(engine) as conn:
        kind = conn.execute(select(codes.c.kind).where(codes.c.code == wanted)).scalar()
        if kind is None or conn.execute(claim).rowcount != 1:
            raise CodeNotFound("not_found", "enrolment_code", code=code)
    try:
        device, _unused_key = devices.create_device(
            engine, name, kind, room=room, screen=screen, queues=queues
        )
    except Exception:  # a bad name or room: the code stays pending for a corrected confirm
        with db.write(engine) as conn:
            conn.execute(
                update(codes)
                .where(codes.c.code == wanted)
                .values(confirmed_at=None, confirmed_by=None, device_name=None)
            )
        raise
    with db.write(engine) as conn:
        conn.execute(update(codes).where(codes.c.code == wanted).values(confirmed_at=clock.now()))
    return device


def refuse(engine: Engine, code: str) -> None:
    """Forget a pending code: the device's next poll hears 404 and it asks again later."""
    now, wanted = clock.now(), _normal(code)
    waiting = (codes.c.code == wanted) & _live(now) & codes.c.confirmed_by.is_(None)
    with db.write(engine) as conn:
        if conn.execute(delete(codes).where(waiting)).rowcount != 1:
            raise CodeNotFound("not_found", "enrolment_code", code=code)


def poll(engine: Engine, secret: str, ca_pem: str) -> dict[str, Any]:
    """``pending`` until confirmed; then the key and CA, once (the secret is spent)."""
    now = clock.now()
    with db.read(engine) as conn:
        row = conn.execute(select(codes).where(codes.c.secret_hash == _hash(secret))).first()
    if row is None or row.delivered_at is not None:
        raise CodeNotFound("not_found", "enrolment_secret", code="")
    if row.expires_at <= now:
        raise Expired("enrolment", "expired", code=shown(row.code))
    if row.confirmed_at is None:
        return {
            "state": "pending",
            "code": shown(row.code),
            "expires_at": clock.iso(row.expires_at),
        }
    with db.write(engine) as conn:
        spent = update(codes).where((codes.c.id == row.id) & codes.c.delivered_at.is_(None))
        if conn.execute(spent.values(delivered_at=now)).rowcount != 1:
            raise CodeNotFound("not_found", "enrolment_secret", code="")
    key = devices.new_key(engine, row.device_name)
    return {"state": "enrolled", "key": key, "ca_pem": ca_pem, "device_name": row.device_name}
