"""The durable-job rules over one domain table that has the job columns (:func:`job_columns`).

States: ``pending`` (waiting; due at ``next_attempt_at``) -> the table's claimed state
(``running``; ``sending`` for HL7) while one process holds it -> a done state of the domain
(``sent``, ``stored``, ``skipped``...) or back to ``pending`` with its back-off, or ``dead``
(a dead letter: out of tries, or refused for good) until someone re-queues it.

A claim is a conditional UPDATE (the row must still be pending and due, or claimed with its
lease run out), so of several core processes exactly one gets a job; :meth:`Jobs.claim_next`
picks the row with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL so that processes
looking at the same time take different rows instead of queueing on one (SQLite admits one
writer at a time, which serialises them anyway). Only the claim's owner records the outcome:
a process judged dead whose claim was taken over finds its success or failure refused.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    Text,
    and_,
    func,
    or_,
    select,
    update,
)

from core_server import clock, db
from core_server.db import UtcDateTime
from core_server.jobs.claims import Claims

PENDING = "pending"
DEAD = "dead"
# What fail() answers when the claim is no longer the caller's (taken over: nothing recorded).
LOST = "lost"


def job_columns() -> list[Column[Any]]:
    """The columns :class:`Jobs` works on, for a new job table (fresh objects each call)."""
    return [
        Column("status", String(12), nullable=False, server_default=PENDING),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("next_attempt_at", UtcDateTime, nullable=False),
        Column("claimed_by", String(64), nullable=True),
        Column("claimed_until", UtcDateTime, nullable=True),
        Column("last_error", Text, nullable=False, server_default=""),
    ]


@dataclass(frozen=True)
class Retry:
    """Back-off after a failed try: ``first`` seconds, doubling up to ``longest``, with a
    little jitter so that several processes do not knock in step; ``max_attempts`` tries in
    all before a dead letter (None: never give up)."""

    first: float
    longest: float
    max_attempts: int | None = None
    jitter: float = 0.1

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed try."""
        pause = min(self.longest, self.first * 2 ** max(0, attempts - 1))
        return pause * random.uniform(1 - self.jitter, 1.0)

    def gives_up(self, attempts: int) -> bool:
        return self.max_attempts is not None and attempts >= self.max_attempts


@dataclass(frozen=True)
class Claimed:
    """A claimed row as it was read, and which try this is."""

    row: Any
    attempt: int


def _pending_now(now: datetime) -> dict[str, Any]:
    """A dead holder's job: pending and due at once (its try stays counted)."""
    return {"status": PENDING, "claimed_by": None, "claimed_until": None, "next_attempt_at": now}


class Jobs(Claims):
    """The job rules over ``table`` (one of a domain's, with :func:`job_columns`); its claims
    of dead processes are taken over (:class:`~core_server.jobs.claims.Claims`)."""

    def __init__(self, table: Table, *, claimed: str = "running") -> None:
        super().__init__(table, claimed, _pending_now)

    def claimable(self, now: datetime) -> Any:
        """Due pending rows, and claimed ones whose holder's lease ran out (it died)."""
        return or_(
            and_(self.c.status == PENDING, self.c.next_attempt_at <= now),
            and_(self.c.status == self.claimed, self.c.claimed_until < now),
        )

    def claim(
        self, conn: Connection, job_id: int, owner: str, lease: timedelta, attempts: int
    ) -> bool:
        """Take row ``job_id`` (read with ``attempts`` tries made) in the caller's transaction;
        False when another process has it or it is not due."""
        now = clock.now()
        taken = conn.execute(
            update(self.table)
            .where(self.c.id == job_id, self.claimable(now))
            .values(
                status=self.claimed,
                claimed_by=owner,
                claimed_until=now + lease,
                attempts=attempts + 1,
            )
        ).rowcount
        return bool(taken == 1)

    def claim_next(
        self,
        engine: Engine,
        owner: str,
        lease: timedelta,
        *,
        where: Iterable[Any] = (),
        order_by: Iterable[Any] = (),
    ) -> Claimed | None:
        """The next claimable row (matching ``where``, in ``order_by`` then id order), taken."""
        now = clock.now()
        with db.write(engine) as conn:
            query = (
                select(self.table)
                .where(self.claimable(now), *where)
                .order_by(*order_by, self.c.id)
                .limit(1)
            )
            if not db.is_sqlite(engine):
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).first()
            if row is None or not self.claim(conn, row.id, owner, lease, row.attempts):
                return None
        return Claimed(row, row.attempts + 1)

    def succeed(self, engine: Engine, job_id: int, owner: str, status: str, **values: Any) -> bool:
        """Record a done try (``status``: the domain's done state); False when ``owner`` no
        longer holds the claim (its lease ran out and another process took the row)."""
        return self._record(engine, job_id, owner, {"status": status, "last_error": "", **values})

    def fail(
        self,
        engine: Engine,
        job_id: int,
        attempt: int,
        owner: str,
        retry: Retry,
        error: str,
        *,
        give_up: bool = False,
        **values: Any,
    ) -> str:
        """Record the failed ``attempt``-th try: pending again after its back-off, or a dead
        letter (out of tries, or ``give_up``: refused for good). Returns the new status, or
        :data:`LOST` when ``owner`` no longer holds the claim (nothing recorded)."""
        dead = give_up or retry.gives_up(attempt)
        outcome: dict[str, Any] = {"status": DEAD if dead else PENDING, "last_error": error[:2000]}
        if not dead:
            outcome["next_attempt_at"] = clock.now() + timedelta(seconds=retry.delay(attempt))
        if not self._record(engine, job_id, owner, {**outcome, **values}):
            return LOST
        return str(outcome["status"])

    def requeue(self, engine: Engine, job_id: int, states: Iterable[str] = (DEAD, PENDING)) -> bool:
        """Try a dead letter again (its tries start over), or a waiting job now."""
        with db.write(engine) as conn:
            changed = conn.execute(
                update(self.table)
                .where(self.c.id == job_id, self.c.status.in_(list(states)))
                .values(status=PENDING, attempts=0, next_attempt_at=clock.now())
            ).rowcount
        return bool(changed == 1)

    def due_now(self, engine: Engine, *where: Any) -> int:
        """Every waiting job (matching ``where``) due at once (the administrator fixed the
        cause); how many."""
        with db.write(engine) as conn:
            return int(
                conn.execute(
                    update(self.table)
                    .where(self.c.status == PENDING, *where)
                    .values(next_attempt_at=clock.now())
                ).rowcount
            )

    def counts(self, engine: Engine) -> dict[str, int]:
        """How many rows are in each status."""
        with db.read(engine) as conn:
            rows = conn.execute(select(self.c.status, func.count()).group_by(self.c.status))
            return {status: int(count) for status, count in rows}

    def _record(self, engine: Engine, job_id: int, owner: str, values: dict[str, Any]) -> bool:
        with db.write(engine) as conn:
            done = conn.execute(
                update(self.table)
                .where(self.c.id == job_id, self.c.claimed_by == owner)
                .values(**values, claimed_by=None, claimed_until=None)
            ).rowcount
        return bool(done == 1)
