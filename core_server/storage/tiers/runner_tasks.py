"""The rules' tasks: made by evaluating the rules, one durable row per object and step in
``storage_rule_tasks`` (the rules of :mod:`core_server.jobs`), and each done through the
tiers API (:mod:`core_server.archive.copies`).

A move is a copy to the area (skipped when a verified one is there) and then
``copies.drop_online`` with the rule's ``min_verified``, which removes the online file only
when that many verified copies exist elsewhere (checked again on their areas). A kill -9
anywhere leaves the task ``running`` with its lease; the restarted core takes it back
(``release_gone``) and does it again from the start, which is safe: each step either is done
already (a verified copy, a dropped file) or is done again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select

from core_server import clock, db, jobs
from core_server.archive import copies
from core_server.archive.areas import OfflineSet
from core_server.archive.areas.registry import Areas
from core_server.refusals import Conflict, NotFound
from core_server.storage.tiers import rules_select
from core_server.storage.tiers.rules import Rule
from core_server.storage.tiers.rules_tables import storage_rule_tasks as tasks

log = logging.getLogger(__name__)
QUEUE = jobs.Jobs(tasks, claimed="running")
DONE = "done"
LEASE = timedelta(minutes=10)
RETRY = jobs.Retry(first=60.0, longest=6 * 3600.0, max_attempts=8)
BATCH = 1000  # rows inserted per transaction
MAX_PER_RULE = 100_000  # tasks one evaluation makes per rule (the next takes the rest)


class NotYet(Exception):
    """A step that cannot be done now (not enough verified copies): tried again later."""


def make(
    engine: Engine,
    rule: Rule,
    usage: rules_select.Usage,
    *,
    only: Iterable[str] | None = None,
    urgent: bool = False,
    limit: int = MAX_PER_RULE,
) -> int:
    """Tasks for every object the rule selects now that has none open; how many."""
    now = clock.now()
    made = 0
    with db.read(engine) as conn:
        query = rules_select.selection(conn, rule, now, usage, fresh_only=True)
        if only is not None:
            query = rules_select.in_batch(query, only)
        rows = conn.execute(query.limit(limit)).all()
    for start in range(0, len(rows), BATCH):
        values = [
            {
                "rule_id": rule.id,
                "kind": rule.task_kind,
                "sop_instance_uid": r.sop_instance_uid,
                "study_instance_uid": r.study_instance_uid,
                "area": rule.area,
                "min_verified": rule.min_verified,
                "size": int(r.size or 0),
                "urgent": urgent,
                "created_at": now,
                "status": jobs.PENDING,
                "next_attempt_at": now,
            }
            for r in rows[start : start + BATCH]
        ]
        with db.write(engine) as conn:
            conn.execute(insert(tasks), values)
        made += len(values)
    return made


def execute(engine: Engine, registry: Areas, row: Any) -> str:
    """Do one task; the note kept with it (empty when all went as planned)."""
    uid, area = row.sop_instance_uid, row.area
    if row.kind == "copy":
        copy = copies.copy_to(engine, registry, uid, area)
        if not copy.verified:
            raise NotYet(f"copy on {area} not verified")
        return ""
    if row.kind == "move":
        if not any(c.area == area and c.verified for c in copies.copies_of(engine, uid)):
            copies.copy_to(engine, registry, uid, area)
        if not copies.drop_online(engine, registry, uid, min_verified=row.min_verified):
            raise NotYet(f"fewer than {row.min_verified} verified copies elsewhere")
        return ""
    if row.kind == "delete_copy":
        return copies.drop_copy(engine, registry, uid, area)
    raise Conflict("storage.rules.task_kind", kind=row.kind)


def run_one(engine: Engine, registry: Areas, owner: str, *, urgent_only: bool) -> Any | None:
    """Claim and do the next due task (only ``urgent`` ones outside the idle hours); the row
    done, or None when there was none."""
    where = [tasks.c.urgent.is_(True)] if urgent_only else []
    claimed = QUEUE.claim_next(
        engine,
        owner,
        LEASE,
        where=where,
        # Urgent (land) first, then in the order made: rules by priority, so a copy that a
        # later move counts on (min_verified) runs before it, also after a released claim.
        order_by=(tasks.c.urgent.desc(),),
    )
    if claimed is None:
        return None
    row = claimed.row
    try:
        note = execute(engine, registry, row)
    except OfflineSet as e:
        QUEUE.fail(engine, row.id, claimed.attempt, owner, RETRY, f"offline set: {e.values}")
    except NotFound as e:  # the object left the archive (recycle bin, erased)
        QUEUE.fail(engine, row.id, claimed.attempt, owner, RETRY, e.code, give_up=True)
    except Exception as e:  # every failure is kept on the task for the admin
        log.warning("storage task %s (%s %s) failed: %s", row.id, row.kind, row.area, e)
        QUEUE.fail(engine, row.id, claimed.attempt, owner, RETRY, f"{type(e).__name__}: {e}")
    else:
        QUEUE.succeed(engine, row.id, owner, DONE, done_at=clock.now(), last_error=note)
    return row


STATES = (jobs.PENDING, "running", DONE, jobs.DEAD)


def counts(engine: Engine) -> dict[str, int]:
    found = QUEUE.counts(engine)
    return {state: found.get(state, 0) for state in STATES}


def pending_bytes(engine: Engine) -> int:
    with db.read(engine) as conn:
        return int(
            conn.execute(
                select(func.coalesce(func.sum(tasks.c.size), 0)).where(
                    tasks.c.status.in_([jobs.PENDING, "running"])
                )
            ).scalar_one()
        )


def listing(engine: Engine, state: str = jobs.DEAD, limit: int = 100) -> list[dict[str, Any]]:
    with db.read(engine) as conn:
        rows = conn.execute(
            select(tasks).where(tasks.c.status == state).order_by(tasks.c.id.desc()).limit(limit)
        ).all()
    return [_task(r) for r in rows]


def _when(at: datetime | None) -> str | None:
    return clock.iso(at) if at else None


def _task(r: Any) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "rule_id": r.rule_id,
        "kind": r.kind,
        "sop_instance_uid": r.sop_instance_uid,
        "study_instance_uid": r.study_instance_uid,
        "area": r.area,
        "min_verified": int(r.min_verified),
        "size": int(r.size),
        "urgent": bool(r.urgent),
        "status": r.status,
        "attempts": int(r.attempts),
        "last_error": r.last_error,
        "created_at": _when(r.created_at),
        "next_attempt_at": _when(r.next_attempt_at),
        "done_at": _when(r.done_at),
    }


def requeue(engine: Engine, task_id: int) -> None:
    if not QUEUE.requeue(engine, task_id):
        raise NotFound("storage.rules.task_unknown", task_id=task_id)


def requeue_dead(engine: Engine) -> int:
    with db.read(engine) as conn:
        ids = list(conn.execute(select(tasks.c.id).where(tasks.c.status == jobs.DEAD)).scalars())
    return sum(QUEUE.requeue(engine, i, (jobs.DEAD,)) for i in ids)
