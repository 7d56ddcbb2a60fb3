"""Disc jobs (刻录任务): created by the desk or a kiosk, claimed by one kiosk with a lease,
moved through their steps by that kiosk only, cancelled or retried by the desk.

A claim is a conditional UPDATE of a queued row (``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL first, as :mod:`core_server.jobs` does, so kiosks asking at once take different
rows), so of two kiosks exactly one gets a job. Every progress call renews the lease; a lease
that runs out (the kiosk died, lost power, lost the network) puts the job back in the queue
with a step saying so, or fails it after :data:`MAX_INTERRUPTIONS`: a job is ``done`` only
when its kiosk said so. :meth:`DiscJobs.sweep` runs at start-up and every few seconds.

Each change is written with its step and an event of the queueing journal in one transaction
(so every page's WebSocket hears it, from whichever core process) and published on the bus
as ``discs.job`` after the commit. Who queued which exam, cancelled, retried, and the discs a
finished job used (with its fee) go to the audit trail in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, or_, select, update

from core_server import clock, db
from core_server.auth import record_audit
from core_server.discs import models as m
from core_server.discs.eligibility import burnable
from core_server.discs.models import DiscJob, Step
from core_server.discs.tables import disc_job_steps as steps
from core_server.discs.tables import disc_jobs as jobs
from core_server.events import EventBus
from core_server.queueing import journal
from core_server.refusals import Conflict, Invalid, NotFound
from core_server.ris import Exam, Ris
from core_server.ris import NotFound as ExamNotFound


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff user, or a kiosk (``device``: its device name)."""

    username: str
    role: str
    device: str | None = None
    address: str = ""


@dataclass
class _Change:
    conn: Connection
    events: list[journal.Event] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)


class DiscJobs:
    def __init__(
        self,
        engine: Engine,
        bus: EventBus,
        ris: Ris,
        *,
        lease: timedelta = m.LEASE,
        fee_per_disc_fen: int = 0,
        images_without_report: bool = False,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.ris = ris
        self.lease = lease
        self.fee_per_disc_fen = fee_per_disc_fen
        self.images_without_report = images_without_report

    # -- reading -------------------------------------------------------------------------------

    def get(self, job_id: int) -> DiscJob:
        with db.read(self.engine) as conn:
            return self._load(conn, job_id)

    def jobs(self, *, state: str = "", device: str = "", limit: int = 200) -> list[DiscJob]:
        query = select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        if state:
            if state not in m.STATES:
                raise Invalid("discs.state_unknown", state=state, states=", ".join(m.STATES))
            query = query.where(jobs.c.state == state)
        if device:
            query = query.where(jobs.c.device == device)
        with db.read(self.engine) as conn:
            rows = conn.execute(query).all()
            found = _steps_of(conn, [r.id for r in rows])
        return [_job(r, found.get(r.id, ())) for r in rows]

    # -- the desk and the kiosk ----------------------------------------------------------------

    def create(self, actor: Actor, exam_ids: list[int], copies: int, device: str | None) -> DiscJob:
        """A queued job for ``exam_ids`` (one patient's) on ``device`` (None: any kiosk); a
        kiosk's own job is always for itself."""
        if not exam_ids:
            raise Invalid("discs.no_exams")
        if not 1 <= copies <= m.MAX_COPIES:
            raise Invalid("discs.copies", most=m.MAX_COPIES)
        exams = [self._exam(e) for e in dict.fromkeys(exam_ids)]
        if len({(e.patient_id, e.issuer) for e in exams}) > 1:
            raise Invalid("discs.mixed_patients")
        if actor.device is not None:
            device = actor.device
        now = clock.now()
        with self._change() as change:
            # Complete, pictured, signed (unless images alone are allowed) and not held back.
            self._burnable(change.conn, [e.id for e in exams])
            job_id = change.conn.execute(
                insert(jobs)
                .values(
                    state=m.QUEUED,
                    exam_ids=json.dumps([e.id for e in exams]),
                    accession_numbers=",".join(e.accession_number for e in exams),
                    patient_id=exams[0].patient_id,
                    copies=copies,
                    device=device,
                    requested_by=actor.username,
                    fee_per_disc_fen=self.fee_per_disc_fen,
                    created_at=now,
                    updated_at=now,
                )
                .returning(jobs.c.id)
            ).scalar_one()
            self._step(change, job_id, m.QUEUED, actor.username)
            detail = {
                "exam_ids": [e.id for e in exams],
                "accession_numbers": [e.accession_number for e in exams],
                "patient_id": exams[0].patient_id,
                "copies": copies,
                "device": device,
                "fee_per_disc_fen": self.fee_per_disc_fen,
            }
            _audit(change.conn, actor, "discs.queue", job_id, detail)
            job = self._changed(change, job_id)
        return job

    def claim(self, actor: Actor) -> DiscJob | None:
        """The oldest queued job for this kiosk (or for any kiosk), now ``building`` and held
        by it for one lease; None when there is none."""
        kiosk = _kiosk(actor)
        now = clock.now()
        with self._change() as change:
            query = (
                select(jobs.c.id)
                .where(
                    jobs.c.state == m.QUEUED,
                    or_(jobs.c.device == kiosk, jobs.c.device.is_(None)),
                )
                .order_by(jobs.c.id)
                .limit(1)
            )
            if not db.is_sqlite(self.engine):
                query = query.with_for_update(skip_locked=True)
            job_id = change.conn.execute(query).scalar()
            if job_id is None:
                return None
            taken = change.conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == m.QUEUED)
                .values(
                    state=m.BUILDING,
                    holder=kiosk,  # the job stays for the kiosk it was queued for
                    lease_until=now + self.lease,
                    updated_at=now,
                )
            ).rowcount
            if taken != 1:
                return None
            self._step(change, job_id, m.BUILDING, actor.username)
            job = self._changed(change, job_id)
        return job

    def progress(
        self,
        actor: Actor,
        job_id: int,
        state: str,
        *,
        message: str = "",
        reason: str = "",
        disc: int | None = None,
        discs: int | None = None,
    ) -> DiscJob:
        """The holding kiosk's step: legal ones only; each renews the lease."""
        kiosk = _kiosk(actor)
        if state not in m.STATES:
            raise Invalid("discs.state_unknown", state=state, states=", ".join(m.STATES))
        now = clock.now()
        with self._change() as change:
            row = self._row(change.conn, job_id, lock=True)
            if row.state == m.CANCELLED:
                raise Conflict("discs.cancelled", job_id=job_id)
            if row.holder != kiosk or row.state not in m.ACTIVE:
                raise Conflict("discs.not_holder", job_id=job_id)
            if state not in m.PROGRESS[row.state]:
                raise Conflict("discs.illegal_step", current=row.state, state=state)
            values: dict[str, Any] = {"state": state, "updated_at": now}
            total = max(row.discs_total, discs or 0, disc or 0)
            values["discs_total"] = total
            if state == m.DONE:
                values["discs_done"] = used = max(total, row.discs_done, 1)
                values["fee_fen"] = used * row.fee_per_disc_fen
            elif disc is not None:
                values["discs_done"] = max(row.discs_done, disc - 1)
            if state in m.FINISHED:
                values.update(holder=None, lease_until=None)
            else:
                values["lease_until"] = now + self.lease
            change.conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))
            noteworthy = state != row.state or bool(message or reason) or disc is not None
            if noteworthy:
                text = message or (f"{disc}/{total}" if disc else "")
                self._step(change, job_id, state, actor.username, text, reason)
            if state == m.DONE:
                used = values["discs_done"]
                _audit(
                    change.conn,
                    actor,
                    "discs.done",
                    job_id,
                    {"discs_used": used, "copies": row.copies, "fee_fen": values["fee_fen"]},
                )
            elif state == m.FAILED:
                _audit(change.conn, actor, "discs.failed", job_id, {"reason": reason})
            job = self._changed(change, job_id, publish=bool(noteworthy))
        return job

    def cancel(self, actor: Actor, job_id: int, reason: str = "") -> DiscJob:
        """Staff, or the kiosk holding (or assigned) the job. Cancelling again is no error."""
        with self._change() as change:
            row = self._row(change.conn, job_id, lock=True)
            if actor.device is not None and actor.device not in (row.holder, row.device):
                raise Conflict("discs.not_holder", job_id=job_id)
            if row.state == m.CANCELLED:
                return self._load(change.conn, job_id)
            if row.state in (m.DONE, m.FAILED):
                raise Conflict("discs.not_cancellable", job_id=job_id, state=row.state)
            change.conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(state=m.CANCELLED, holder=None, lease_until=None, updated_at=clock.now())
            )
            self._step(change, job_id, m.CANCELLED, actor.username, "", reason)
            _audit(change.conn, actor, "discs.cancel", job_id, {"from": row.state})
            job = self._changed(change, job_id)
        return job

    def retry(self, actor: Actor, job_id: int) -> DiscJob:
        """A failed or cancelled job queued again (its interruptions start over)."""
        with self._change() as change:
            row = self._row(change.conn, job_id, lock=True)
            if row.state not in (m.FAILED, m.CANCELLED):
                raise Conflict("discs.not_retryable", job_id=job_id, state=row.state)
            self._burnable(change.conn, json.loads(row.exam_ids))  # held since it failed?
            change.conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    state=m.QUEUED,
                    holder=None,
                    lease_until=None,
                    interruptions=0,
                    discs_done=0,
                    discs_total=0,
                    fee_fen=0,
                    updated_at=clock.now(),
                )
            )
            self._step(change, job_id, m.QUEUED, actor.username, "", "retried")
            _audit(change.conn, actor, "discs.retry", job_id, {"from": row.state})
            job = self._changed(change, job_id)
        return job

    def sweep(self) -> int:
        """Jobs whose kiosk's lease ran out: queued again with a step saying so, or failed
        after :data:`MAX_INTERRUPTIONS`. How many."""
        now = clock.now()
        with db.read(self.engine) as conn:
            expired = (
                conn.execute(
                    select(jobs.c.id).where(jobs.c.state.in_(m.ACTIVE), jobs.c.lease_until < now)
                )
                .scalars()
                .all()
            )
        count = 0
        for job_id in expired:
            with self._change() as change:
                row = self._row(change.conn, job_id, lock=True)
                if row.state not in m.ACTIVE or row.lease_until is None or row.lease_until >= now:
                    continue  # its kiosk reported meanwhile
                times = row.interruptions + 1
                state = m.FAILED if times >= m.MAX_INTERRUPTIONS else m.QUEUED
                change.conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(
                        state=state,
                        holder=None,
                        lease_until=None,
                        interruptions=times,
                        updated_at=now,
                    )
                )
                note = f"{row.holder} ({row.state}), {times}/{m.MAX_INTERRUPTIONS}"
                self._step(change, job_id, state, "core", note, "lease_expired")
                self._changed(change, job_id)
                count += 1
        return count

    # -- inside ---------------------------------------------------------------------------------

    def _burnable(self, conn: Connection, exam_ids: list[int]) -> None:
        """409 ``discs.eligibility.not_releasable`` (the exam and why) unless every exam may
        be burned now."""
        burnable(conn, exam_ids, images_without_report=self.images_without_report)

    def _exam(self, exam_id: int) -> Exam:
        try:
            return self.ris.exam(exam_id)
        except ExamNotFound:
            raise NotFound("discs.exam_not_found", exam_id=exam_id) from None

    @contextmanager
    def _change(self) -> Iterator[_Change]:
        with db.write(self.engine) as conn:
            change = _Change(conn)
            yield change
        if change.events:
            self.bus.publish(journal.TOPIC, {"seq": change.events[-1].seq, "events": change.events})
        for payload in change.payloads:
            self.bus.publish(m.EVENT, payload)

    def _changed(self, change: _Change, job_id: int, *, publish: bool = True) -> DiscJob:
        job = self._load(change.conn, job_id)
        if publish:
            payload = job.as_dict()
            change.events.append(journal.append(change.conn, m.EVENT, {"job": payload}))
            change.payloads.append(payload)
        return job

    def _step(
        self,
        change: _Change,
        job_id: int,
        state: str,
        by: str,
        message: str = "",
        reason: str = "",
    ) -> None:
        change.conn.execute(
            insert(steps).values(
                job_id=job_id,
                state=state,
                at=clock.now(),
                message=message[:2000],
                reason=reason[:48],
                by=by[:64],
            )
        )

    def _row(self, conn: Connection, job_id: int, *, lock: bool = False) -> Any:
        query = select(jobs).where(jobs.c.id == job_id)
        if lock and not db.is_sqlite(self.engine):
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound("discs.job_not_found", job_id=job_id)
        return row

    def _load(self, conn: Connection, job_id: int) -> DiscJob:
        row = self._row(conn, job_id)
        return _job(row, _steps_of(conn, [job_id]).get(job_id, ()))


def _kiosk(actor: Actor) -> str:
    if actor.device is None:
        raise Conflict("discs.not_a_kiosk")
    return actor.device


def _steps_of(conn: Connection, ids: list[int]) -> dict[int, tuple[Step, ...]]:
    if not ids:
        return {}
    found: dict[int, list[Step]] = {}
    rows = conn.execute(select(steps).where(steps.c.job_id.in_(ids)).order_by(steps.c.id))
    for r in rows:
        found.setdefault(r.job_id, []).append(Step(r.state, r.at, r.message, r.reason, r.by))
    return {k: tuple(v) for k, v in found.items()}


def _job(row: Any, found: tuple[Step, ...]) -> DiscJob:
    return DiscJob(
        id=row.id,
        state=row.state,
        exam_ids=tuple(json.loads(row.exam_ids)),
        accession_numbers=tuple(a for a in row.accession_numbers.split(",") if a),
        patient_id=row.patient_id,
        copies=row.copies,
        device=row.device,
        requested_by=row.requested_by,
        holder=row.holder,
        lease_until=row.lease_until,
        interruptions=row.interruptions,
        discs_done=row.discs_done,
        discs_total=row.discs_total,
        fee_per_disc_fen=row.fee_per_disc_fen,
        fee_fen=row.fee_fen,
        created_at=row.created_at,
        updated_at=row.updated_at,
        steps=found,
    )


def _audit(
    conn: Connection, actor: Actor, action: str, job_id: int, detail: dict[str, Any]
) -> None:
    record_audit(
        conn,
        username=actor.username,
        action=action,
        target=f"disc_job:{job_id}",
        detail=detail,
        address=actor.address,
    )
