"""The cloud film: a link printed on the disc label (a QR code) to the exams' images and report
online, for a time (``cloud_film_days``, 30 by default), revocable by the administrator.

The token is ``<link id>.<expiry, epoch seconds>.<HMAC>``: short enough for a small QR code,
signed with a key kept in the database (every core process checks it alike), so a forged or
altered token is refused before anything is looked up. The link's row holds what it shows and
whether it was revoked; the token alone opens nothing: the page first asks the patient's birth
date or phone tail (:mod:`.cloud_check`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from core_server import clock, db
from core_server.auth import record_audit
from core_server.discs.cloud_tables import disc_cloud_keys, disc_cloud_links
from core_server.refusals import Conflict, NotFound, Refusal
from core_server.ris.tables import ris_exams, ris_patients

DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Link:
    id: int
    job_id: int | None
    patient_id: str
    exam_ids: tuple[int, ...]
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str

    def state(self, at: datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= (at or clock.now()) else "active"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job_id": self.job_id,
            "patient_id": self.patient_id,
            "exam_ids": list(self.exam_ids),
            "created_by": self.created_by,
            "created_at": clock.iso(self.created_at),
            "expires_at": clock.iso(self.expires_at),
            "revoked_at": clock.iso(self.revoked_at),
            "revoked_by": self.revoked_by,
            "state": self.state(),
        }


class LinkClosed(Refusal):
    """The token is forged (404 ``discs.cloud.unknown``), out of date (410
    ``discs.cloud.expired``) or withdrawn (410 ``discs.cloud.revoked``)."""

    status = 410


def _link(row: Any) -> Link:
    return Link(
        row.id,
        row.job_id,
        row.patient_id,
        tuple(int(i) for i in json.loads(row.exam_ids)),
        row.created_by,
        row.created_at,
        row.expires_at,
        row.revoked_at,
        row.revoked_by,
    )


def _secret(engine: Engine) -> bytes:
    """The signing key, made on first use (two processes racing: the first insert wins)."""
    with db.read(engine) as conn:
        found = conn.execute(select(disc_cloud_keys.c.secret)).scalar()
    if found is None:
        try:
            with db.write(engine) as conn:
                conn.execute(
                    insert(disc_cloud_keys).values(
                        id=1, secret=secrets.token_hex(32), created_at=clock.now()
                    )
                )
        except IntegrityError:
            pass
        with db.read(engine) as conn:
            found = conn.execute(select(disc_cloud_keys.c.secret)).scalar_one()
    return bytes.fromhex(found)


def _signature(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_for(engine: Engine, link: Link) -> str:
    payload = f"{link.id}.{int(link.expires_at.timestamp())}"
    return f"{payload}.{_signature(_secret(engine), payload)}"


# The options of each core's engine, registered when its web app is built (``configure``), for
# callers that pass none (the disc-job helper calls ``issue_link(engine, job)``). Keyed by the
# engine, not global: every test builds its own core.
_options: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()


def link_options(settings: Any) -> dict[str, Any]:
    """``issue_link``'s keywords from the core's settings: the public address (``--public-url``,
    else this machine's name and HTTP port, as printed reports do) and the lifetime."""
    from core_server.reporting.output import default_public_url

    base = settings.public_url or default_public_url(settings.host, settings.http_port)
    return {"public_url": base, "days": settings.cloud_film_days}


def configure(engine: Engine, settings: Any) -> None:
    _options[engine] = link_options(settings)


def issue_link(
    engine: Engine,
    job: Any,
    exam_ids: list[int] | None = None,
    *,
    public_url: str | None = None,
    days: int | None = None,
    by: str = "",
) -> tuple[str, datetime]:
    """The link to these exams (all of one patient): its URL ``<public_url>/c/<token>`` and
    when it expires. ``job`` is the disc job's id (or the job itself, with ``id`` and
    ``exam_ids``; None for a link without a disc). A job's still-valid link to the same exams
    is given again (its manifest may be fetched more than once); a new one is audited
    (``discs.cloud.issue``). Options not given come from :func:`configure`."""
    job_id = getattr(job, "id", job)
    given: list[Any] = list(exam_ids or getattr(job, "exam_ids", None) or [])
    ids = list(dict.fromkeys(int(i) for i in given))
    options = _options.get(engine, {})
    base = (public_url if public_url is not None else options.get("public_url", "")).rstrip("/")
    lifetime = days if days is not None else options.get("days", DEFAULT_DAYS)
    if job_id is not None:
        for earlier in list_links(engine, job_id=int(job_id)):
            if earlier.state() == "active" and sorted(earlier.exam_ids) == sorted(ids):
                return f"{base}/c/{token_for(engine, earlier)}", earlier.expires_at
    link = _new_link(engine, job_id, ids, lifetime, by)
    return f"{base}/c/{token_for(engine, link)}", link.expires_at


def _new_link(engine: Engine, job_id: int | None, ids: list[int], days: int, by: str) -> Link:
    now = clock.now()
    # Whole seconds: the token carries the expiry as epoch seconds.
    expires = (now + timedelta(days=days)).replace(microsecond=0)
    with db.write(engine) as conn:
        patients = conn.execute(
            select(ris_patients.c.patient_id)
            .join(ris_exams, ris_exams.c.patient_fk == ris_patients.c.id)
            .where(ris_exams.c.id.in_(ids))
            .distinct()
        ).all()
        if len(patients) > 1:
            raise Conflict("discs.eligibility.several_patients")
        if not patients:
            raise NotFound("discs.eligibility.exam_unknown", exam_id=ids[0] if ids else 0)
        link_id = conn.execute(  # type: ignore[index]
            insert(disc_cloud_links).values(
                job_id=job_id,
                patient_id=patients[0].patient_id,
                exam_ids=json.dumps(ids),
                created_by=by,
                created_at=now,
                expires_at=expires,
            )
        ).inserted_primary_key[0]
        record_audit(
            conn,
            username=by or None,
            action="discs.cloud.issue",
            target=f"cloud_link:{link_id}",
            detail={"job_id": job_id, "exam_ids": ids, "expires_at": clock.iso(expires)},
        )
        row = conn.execute(select(disc_cloud_links).where(disc_cloud_links.c.id == link_id)).one()
    return _link(row)


def get_link(engine: Engine, link_id: int) -> Link:
    with db.read(engine) as conn:
        row = conn.execute(select(disc_cloud_links).where(disc_cloud_links.c.id == link_id)).first()
    if row is None:
        raise NotFound("discs.cloud.link_not_found", link_id=link_id)
    return _link(row)


def open_link(engine: Engine, token: str) -> Link:
    """The link a token names if it is genuine, unexpired and not revoked; LinkClosed else."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise LinkClosed("discs.cloud.unknown", 404)
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _signature(_secret(engine), payload)):
        raise LinkClosed("discs.cloud.unknown", 404)
    try:
        link = get_link(engine, int(parts[0]))
    except NotFound:
        raise LinkClosed("discs.cloud.unknown", 404) from None
    if int(link.expires_at.timestamp()) != int(parts[1]):
        raise LinkClosed("discs.cloud.unknown", 404)
    state = link.state()
    if state != "active":
        raise LinkClosed(f"discs.cloud.{state}")
    return link


def list_links(
    engine: Engine, *, patient_id: str = "", job_id: int | None = None, limit: int = 200
) -> list[Link]:
    """Newest first."""
    query = select(disc_cloud_links).order_by(disc_cloud_links.c.id.desc()).limit(limit)
    if patient_id:
        query = query.where(disc_cloud_links.c.patient_id == patient_id)
    if job_id is not None:
        query = query.where(disc_cloud_links.c.job_id == job_id)
    with db.read(engine) as conn:
        return [_link(r) for r in conn.execute(query)]


def revoke(engine: Engine, link_id: int, *, by: str, address: str = "") -> Link:
    """Withdraw the link at once (again: no change). Audited (``discs.cloud.revoke``)."""
    with db.write(engine) as conn:
        changed = conn.execute(
            update(disc_cloud_links)
            .where(disc_cloud_links.c.id == link_id, disc_cloud_links.c.revoked_at.is_(None))
            .values(revoked_at=clock.now(), revoked_by=by)
        ).rowcount
        if changed:
            record_audit(
                conn,
                username=by,
                action="discs.cloud.revoke",
                target=f"cloud_link:{link_id}",
                address=address,
            )
    return get_link(engine, link_id)
