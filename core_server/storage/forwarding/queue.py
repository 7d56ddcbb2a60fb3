"""The forwarding queue: one durable task per (destination, instance) in ``forwarding_tasks``,
over the rules of :mod:`core_server.jobs` (a lease per claim, back-off, dead letter, re-queue,
claims of a killed process released at start; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

States: ``pending`` -> ``running`` (claimed) -> ``sent`` (stored by the peer) -> ``committed``
(the peer's storage commitment said it keeps it; destinations without commitment stop at
``sent``), or back to ``pending`` with a back-off, or ``dead`` after the last try.

A worker claims a *batch*: the next due task, then the other due tasks of the same destination
and study (up to ``limit``), so that one study goes over one association (one STOW-RS request).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select, text, update

from core_server import clock, db
from core_server.jobs import DEAD, PENDING, Jobs, Retry
from core_server.storage.forwarding.tables import forwarding_reports as reports
from core_server.storage.forwarding.tables import forwarding_tasks as tasks

RUNNING = "running"
SENT = "sent"
COMMITTED = "committed"
STATES = (PENDING, RUNNING, SENT, COMMITTED, DEAD)
JOBS = Jobs(tasks, claimed=RUNNING)
OPEN = (PENDING, RUNNING)
CLAIM_LOCK = 1_400_001  # PostgreSQL advisory lock key of forwarding's batch claim


@dataclass(frozen=True)
class Item:
    """What a rule queues: one instance for one destination."""

    destination_id: int
    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    reason: str = "new"
    rule_id: int | None = None


@dataclass(frozen=True)
class Task:
    id: int
    destination_id: int
    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    attempt: int


def enqueue(engine: Engine, items: Iterable[Item]) -> int:
    """Queue ``items``, skipping an instance already waiting for the same destination (a
    second change before the first send goes out once); how many were queued."""
    items = list(items)
    if not items:
        return 0
    now = clock.now()
    queued = 0
    with db.write(engine) as conn:
        for destination_id in {i.destination_id for i in items}:
            mine = [i for i in items if i.destination_id == destination_id]
            waiting = set(
                conn.execute(
                    select(tasks.c.sop_instance_uid).where(
                        tasks.c.destination_id == destination_id,
                        tasks.c.status == PENDING,
                        tasks.c.sop_instance_uid.in_([i.sop_instance_uid for i in mine]),
                    )
                ).scalars()
            )
            rows = [
                {
                    "destination_id": i.destination_id,
                    "rule_id": i.rule_id,
                    "sop_instance_uid": i.sop_instance_uid,
                    "sop_class_uid": i.sop_class_uid,
                    "study_instance_uid": i.study_instance_uid,
                    "reason": i.reason,
                    "created_at": now,
                    "next_attempt_at": now,
                }
                for i in {i.sop_instance_uid: i for i in mine}.values()
                if i.sop_instance_uid not in waiting
            ]
            if rows:
                conn.execute(insert(tasks), rows)
                queued += len(rows)
    return queued


def delivered(engine: Engine, destination_id: int, sop_uids: Iterable[str]) -> set[str]:
    """Which of ``sop_uids`` already went (or wait to go) to the destination."""
    uids = list(sop_uids)
    found: set[str] = set()
    with db.read(engine) as conn:
        for start in range(0, len(uids), 500):
            found.update(
                conn.execute(
                    select(tasks.c.sop_instance_uid).where(
                        tasks.c.destination_id == destination_id,
                        tasks.c.status != DEAD,
                        tasks.c.sop_instance_uid.in_(uids[start : start + 500]),
                    )
                ).scalars()
            )
    return found


def claim_batch(
    engine: Engine,
    owner: str,
    lease: timedelta,
    limit: int,
    *,
    destinations: Iterable[int] | None = None,
) -> list[Task]:
    """The next due task and up to ``limit - 1`` more of its destination and study, claimed
    in one transaction. Claims take turns (SQLite's one writer; on PostgreSQL a transaction
    advisory lock held for the few milliseconds of the claim), so that two workers never split
    a study: with SKIP LOCKED alone the second would take the study's next row."""
    where = [] if destinations is None else [tasks.c.destination_id.in_(list(destinations))]
    locking = not db.is_sqlite(engine)
    with db.write(engine) as conn:
        if locking:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
        now = clock.now()
        query = select(tasks).where(JOBS.claimable(now), *where).order_by(tasks.c.id).limit(1)
        if locking:
            query = query.with_for_update(skip_locked=True)
        first = conn.execute(query).first()
        if first is None or not JOBS.claim(conn, first.id, owner, lease, first.attempts):
            return []
        batch = [_task(first, first.attempts + 1)]
        query = (
            select(tasks)
            .where(
                JOBS.claimable(now),
                tasks.c.destination_id == first.destination_id,
                tasks.c.study_instance_uid == first.study_instance_uid,
                tasks.c.id != first.id,
            )
            .order_by(tasks.c.id)
            .limit(limit - 1)
        )
        if locking:
            query = query.with_for_update(skip_locked=True)
        for row in conn.execute(query).all():
            if JOBS.claim(conn, row.id, owner, lease, row.attempts):
                batch.append(_task(row, row.attempts + 1))
    return batch


def record(
    engine: Engine,
    task: Task,
    owner: str,
    retry: Retry,
    *,
    status: str,
    error: str = "",
    transaction_uid: str = "",
    give_up: bool = False,
) -> str:
    """A try's outcome: ``sent``/``committed``, or failed (``error``) with its back-off."""
    now = clock.now()
    if status in (SENT, COMMITTED):
        values: dict[str, Any] = {"sent_at": now, "transaction_uid": transaction_uid}
        if status == COMMITTED:
            values["committed_at"] = now
        JOBS.succeed(engine, task.id, owner, status, **values)
        return status
    return JOBS.fail(engine, task.id, task.attempt, owner, retry, error, give_up=give_up)


def record_done(
    engine: Engine, done: Iterable[Task], owner: str, status: str, transaction_uid: str = ""
) -> int:
    """:func:`record` of a batch's ``sent`` (or ``committed``) tasks in one transaction (a
    commit per object would cost more than sending it); how many were still ours."""
    ids = [t.id for t in done]
    if not ids:
        return 0
    now = clock.now()
    values: dict[str, Any] = {"sent_at": now, "transaction_uid": transaction_uid}
    if status == COMMITTED:
        values["committed_at"] = now
    with db.write(engine) as conn:
        return int(
            conn.execute(
                update(tasks)
                .where(tasks.c.id.in_(ids), tasks.c.claimed_by == owner)
                .values(status=status, last_error="", claimed_by=None, claimed_until=None, **values)
            ).rowcount
        )


def requeue(engine: Engine, task_id: int) -> bool:
    """An admin's re-queue of a dead (or waiting) task: tried again now, its tries anew."""
    return JOBS.requeue(engine, task_id)


def requeue_dead(engine: Engine, destination_id: int | None = None) -> int:
    where = [tasks.c.status == DEAD]
    if destination_id is not None:
        where.append(tasks.c.destination_id == destination_id)
    with db.write(engine) as conn:
        return int(
            conn.execute(
                update(tasks)
                .where(*where)
                .values(status=PENDING, attempts=0, next_attempt_at=clock.now())
            ).rowcount
        )


def recommit(engine: Engine, destination_ids: list[int], older_than: timedelta) -> int:
    """Tasks ``sent`` to a commitment destination whose report never came: sent again (a
    second C-STORE of the same object is allowed) so that commitment is asked anew."""
    if not destination_ids:
        return 0
    with db.write(engine) as conn:
        return int(
            conn.execute(
                update(tasks)
                .where(
                    tasks.c.status == SENT,
                    tasks.c.destination_id.in_(destination_ids),
                    tasks.c.sent_at < clock.now() - older_than,
                )
                .values(status=PENDING, next_attempt_at=clock.now())
            ).rowcount
        )


def committed(
    engine: Engine, transaction_uid: str, committed_uids: Iterable[str], failed_uids: Iterable[str]
) -> int:
    """A storage commitment report that came after its association: the ``sent`` tasks of
    ``transaction_uid`` it names committed, those it names failed sent again now; how many
    tasks it changed."""
    if not transaction_uid:
        return 0
    ok, bad = list(committed_uids), list(failed_uids)
    now = clock.now()
    changed = 0
    where = [tasks.c.transaction_uid == transaction_uid, tasks.c.status == SENT]
    with db.write(engine) as conn:
        if ok:
            changed += conn.execute(
                update(tasks)
                .where(*where, tasks.c.sop_instance_uid.in_(ok))
                .values(status=COMMITTED, committed_at=now)
            ).rowcount
        if bad:
            changed += conn.execute(
                update(tasks)
                .where(*where, tasks.c.sop_instance_uid.in_(bad))
                .values(status=PENDING, next_attempt_at=now, last_error="commitment failed")
            ).rowcount
    return int(changed)


def keep_report(
    engine: Engine, transaction_uid: str, committed_uids: list[str], failed_uids: list[str]
) -> None:
    """A report no ``sent`` task took: kept for its batch, which takes it once recorded."""
    with db.write(engine) as conn:
        conn.execute(delete(reports).where(reports.c.transaction_uid == transaction_uid))
        conn.execute(
            insert(reports).values(
                transaction_uid=transaction_uid,
                committed=committed_uids,
                failed=failed_uids,
                received_at=clock.now(),
            )
        )


def kept_report(engine: Engine, transaction_uid: str) -> tuple[list[str], list[str]] | None:
    """The kept report of ``transaction_uid`` (taken: removed), or None."""
    with db.write(engine) as conn:
        row = conn.execute(
            delete(reports)
            .where(reports.c.transaction_uid == transaction_uid)
            .returning(reports.c.committed, reports.c.failed)
        ).first()
    return (list(row.committed), list(row.failed)) if row else None


def forget_reports(engine: Engine, older_than: timedelta) -> int:
    """Kept reports no batch ever took (an unknown or long-recorded transaction)."""
    with db.write(engine) as conn:
        cutoff = clock.now() - older_than
        return int(conn.execute(delete(reports).where(reports.c.received_at < cutoff)).rowcount)


def sizes(engine: Engine) -> list[dict[str, Any]]:
    """Per destination and status: how many tasks, and the oldest waiting one's age (s)."""
    now = clock.now()
    with db.read(engine) as conn:
        rows = conn.execute(
            select(
                tasks.c.destination_id,
                tasks.c.status,
                func.count(),
                func.min(tasks.c.created_at),
            ).group_by(tasks.c.destination_id, tasks.c.status)
        ).all()
    return [
        {
            "destination_id": r[0],
            "status": r[1],
            "count": int(r[2]),
            "oldest_age_seconds": (
                round((now - r[3]).total_seconds(), 1) if r[3] and r[1] in OPEN else None
            ),
        }
        for r in rows
    ]


def listed(
    engine: Engine, *, status: str = "", destination_id: int | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    query = select(tasks).order_by(tasks.c.id.desc()).limit(limit)
    if status:
        query = query.where(tasks.c.status == status)
    if destination_id is not None:
        query = query.where(tasks.c.destination_id == destination_id)
    with db.read(engine) as conn:
        rows = conn.execute(query).all()
    return [
        {
            "id": r.id,
            "destination_id": r.destination_id,
            "rule_id": r.rule_id,
            "sop_instance_uid": r.sop_instance_uid,
            "study_instance_uid": r.study_instance_uid,
            "reason": r.reason,
            "status": r.status,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "created_at": clock.iso(r.created_at),
            "sent_at": clock.iso(r.sent_at) if r.sent_at else None,
            "committed_at": clock.iso(r.committed_at) if r.committed_at else None,
            "next_attempt_at": clock.iso(r.next_attempt_at),
        }
        for r in rows
    ]


def open_for(engine: Engine, destination_id: int, study_uid: str) -> int:
    with db.read(engine) as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    and_(
                        tasks.c.destination_id == destination_id,
                        tasks.c.study_instance_uid == study_uid,
                        tasks.c.status.in_(OPEN),
                    )
                )
            ).scalar_one()
        )


def _task(row: Any, attempt: int) -> Task:
    return Task(
        row.id,
        row.destination_id,
        row.sop_instance_uid,
        row.sop_class_uid,
        row.study_instance_uid,
        attempt,
    )
