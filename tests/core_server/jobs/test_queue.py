"""The durable-job rules on a table of their own, on SQLite and PostgreSQL: one claim per job
whoever asks, back-off then a dead letter, re-queue, only the owner records, a dead process's
claims released, and PostgreSQL's SKIP LOCKED handing concurrent claimers different rows."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select

from core_server import clock, db
from core_server.jobs import DEAD, PENDING, Jobs, Retry, job_columns, owners

LEASE = timedelta(minutes=1)


@pytest.fixture
def work(database_url: str) -> Iterator[tuple[Engine, Jobs]]:
    engine = db.make_engine(database_url)
    metadata = MetaData()
    table = Table(
        "test_jobs",
        metadata,
        Column("id", db.BigId, primary_key=True, autoincrement=True),
        Column("what", String(32), nullable=False),
        *job_columns(),
    )
    metadata.create_all(engine)
    yield engine, Jobs(table)
    engine.dispose()


def add(engine: Engine, queue: Jobs, *names: str) -> list[int]:
    with db.write(engine) as conn:
        return [
            int(
                conn.execute(
                    insert(queue.table).values(what=n, next_attempt_at=clock.now())
                ).inserted_primary_key[0]
            )  # type: ignore[index]
            for n in names
        ]


def row(engine: Engine, queue: Jobs, job_id: int):  # type: ignore[no-untyped-def]
    with db.read(engine) as conn:
        return conn.execute(select(queue.table).where(queue.c.id == job_id)).one()


def test_claim_fail_back_off_dead_letter_and_requeue(work: tuple[Engine, Jobs]) -> None:
    engine, queue = work
    (job_id,) = add(engine, queue, "a")
    retry = Retry(first=60, longest=600, max_attempts=2)
    first = queue.claim_next(engine, "one", LEASE)
    assert first is not None and first.attempt == 1
    assert queue.claim_next(engine, "two", LEASE) is None  # one claim at a time
    assert not queue.succeed(engine, job_id, "two", "done")  # only the owner records
    assert queue.fail(engine, job_id, 1, "one", retry, "down") == PENDING
    waiting = row(engine, queue, job_id)
    assert waiting.status == PENDING and waiting.claimed_by is None
    assert waiting.next_attempt_at > clock.now() + timedelta(seconds=50)  # its back-off
    assert queue.claim_next(engine, "one", LEASE) is None  # not due yet
    assert queue.due_now(engine) == 1
    second = queue.claim_next(engine, "one", LEASE)
    assert second is not None and second.attempt == 2
    assert queue.fail(engine, job_id, 2, "one", retry, "still down") == DEAD
    assert queue.counts(engine) == {DEAD: 1}
    assert queue.requeue(engine, job_id)
    again = queue.claim_next(engine, "one", LEASE)
    assert again is not None and again.attempt == 1  # its tries start over
    assert queue.succeed(engine, job_id, "one", "done")
    assert not queue.requeue(engine, job_id)  # done: nothing to re-queue
    assert row(engine, queue, job_id).last_error == ""


def test_a_lease_that_ran_out_and_a_dead_processs_claim(work: tuple[Engine, Jobs]) -> None:
    engine, queue = work
    late, held, alive = add(engine, queue, "late", "held", "alive")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = f"{owners._host()}:{child.pid}:1:cafe0000"
    with db.write(engine) as conn:
        assert queue.claim(conn, late, "elsewhere", timedelta(seconds=-1), 0)  # lease ran out
        assert queue.claim(conn, held, dead, timedelta(hours=1), 0)
        assert queue.claim(conn, alive, owners.this_process(), timedelta(hours=1), 0)
    retaken = queue.claim_next(engine, "me", LEASE)
    assert retaken is not None and retaken.row.id == late and retaken.attempt == 2
    assert queue.release_gone(engine) == 1  # the dead one only; a living claim is left alone
    assert row(engine, queue, held).status == PENDING
    assert row(engine, queue, alive).status == "running"


def test_concurrent_claimers_take_different_rows(work: tuple[Engine, Jobs]) -> None:
    engine, queue = work
    add(engine, queue, *[f"j{n}" for n in range(40)])
    taken: list[int] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while (claimed := queue.claim_next(engine, name, LEASE)) is not None:
            with lock:
                taken.append(claimed.row.id)

    threads = [threading.Thread(target=claimer, args=(f"c{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 40
