"""The cloud film's check question: before anything is shown, the visitor gives the patient's
birth date (8 digits, 19800214 or 1980-02-14) or the last 4 digits of their phone.

The brake on guessing slows, never locks: a lock-out that any anonymous visitor could cause
would keep the patient from their own images. Per token and client address, after
``FREE_PER_ADDRESS`` wrong answers each further try waits ``FIRST_DELAY`` seconds doubled per
failure, at most ``MAX_DELAY``; per token from all addresses together, the same after
``FREE_PER_LINK`` (guessing from many addresses gets one try a minute). A right answer clears
that address's count. A try refused by the brake is not checked and not recorded (a flood
would write a row a request); every answer checked is audited.

A right answer opens a pass: a random key in an HttpOnly cookie (its SHA-256 stored), valid
for ``PASS_HOURS`` or until the link ends.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from core_server import clock, db
from core_server.auth import record_audit
from core_server.discs.cloud import Link
from core_server.discs.cloud_tables import disc_cloud_checks, disc_cloud_passes
from core_server.discs.eligibility import current_patient
from core_server.refusals import Refusal
from core_server.ris.tables import ris_exams

WINDOW = timedelta(hours=1)
FREE_PER_ADDRESS = 3
FREE_PER_LINK = 10
FIRST_DELAY = 2.0  # seconds
MAX_DELAY = 60.0
PASS_HOURS = 2


class CheckThrottled(Refusal):
    """429: wrong answers lately; try again in ``retry_after`` seconds."""

    status = 429

    def __init__(self, retry_after: float) -> None:
        super().__init__("discs.cloud.slow_down", retry_after=max(1, math.ceil(retry_after)))
        self.retry_after = max(1, math.ceil(retry_after))


@dataclass(frozen=True)
class Answer:
    ok: bool
    pass_key: str = ""  # the cookie's value when ok
    pass_expires: datetime | None = None


def patient_of(conn: Connection, link: Link) -> Any:
    """The link's patient (the surviving record after a merge)."""
    fk = conn.execute(
        select(ris_exams.c.patient_fk).where(ris_exams.c.id == link.exam_ids[0])
    ).scalar_one()
    return current_patient(conn, fk)


def matches(patient: Any, answer: str) -> bool:
    digits = "".join(c for c in answer if c.isdigit())
    if len(digits) == 8:
        return bool(patient.birth_date) and digits == patient.birth_date.replace("-", "")
    if len(digits) == 4:
        phone = "".join(c for c in (patient.phone or "") if c.isdigit())
        return len(phone) >= 4 and secrets.compare_digest(digits, phone[-4:])
    return False


def _delay(conn: Connection, link_id: int, address: str | None, now: datetime) -> float:
    """Seconds still to wait for this link (and address, if given)."""
    checks = disc_cloud_checks.c
    where = [checks.link_id == link_id, checks.at > now - WINDOW]
    if address is not None:
        where.append(checks.address == address)
    last_ok = conn.execute(select(func.max(checks.at)).where(*where, checks.ok)).scalar()
    if last_ok is not None:
        where.append(checks.at > last_ok)
    failures, last = conn.execute(
        select(func.count(), func.max(checks.at)).where(*where, checks.ok.is_(False))
    ).one()
    free = FREE_PER_ADDRESS if address is not None else FREE_PER_LINK
    if failures < free or last is None:
        return 0.0
    delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (failures - free))
    return max(0.0, (last + timedelta(seconds=delay) - now).total_seconds())


def retry_after(engine: Engine, link: Link, address: str) -> float:
    now = clock.now()
    with db.read(engine) as conn:
        return max(_delay(conn, link.id, address, now), _delay(conn, link.id, None, now))


def answer(engine: Engine, link: Link, given: str, address: str) -> Answer:
    """Check the visitor's answer; CheckThrottled while the brake holds."""
    wait = retry_after(engine, link, address)
    if wait > 0:
        raise CheckThrottled(wait)
    now = clock.now()
    with db.write(engine) as conn:
        ok = matches(patient_of(conn, link), given)
        conn.execute(
            insert(disc_cloud_checks).values(link_id=link.id, address=address, ok=ok, at=now)
        )
        record_audit(
            conn,
            username=None,
            action="discs.cloud.opened" if ok else "discs.cloud.check_failed",
            target=f"cloud_link:{link.id}",
            detail={"patient_id": link.patient_id},
            address=address,
        )
        if not ok:
            return Answer(False)
        key = secrets.token_urlsafe(24)
        expires = min(link.expires_at, now + timedelta(hours=PASS_HOURS))
        conn.execute(
            insert(disc_cloud_passes).values(
                link_id=link.id, key_hash=_hash(key), expires_at=expires
            )
        )
    return Answer(True, key, expires)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def has_pass(engine: Engine, link: Link, key: str | None) -> bool:
    if not key:
        return False
    with db.read(engine) as conn:
        found = conn.execute(
            select(disc_cloud_passes.c.id).where(
                disc_cloud_passes.c.link_id == link.id,
                disc_cloud_passes.c.key_hash == _hash(key),
                disc_cloud_passes.c.expires_at > clock.now(),
            )
        ).first()
    return found is not None
