"""Taking over a dead process's claims (jobs/takeover.py, jobs/claims.py), on SQLite and
PostgreSQL: every core table with claims is in the one registry; a round gives a dead
process's claims back at once (a job pending and due, an inbound HL7 message failed) and
never touches a live process's claim, however old, nor one whose owner never registered; a
process judged dead that finishes late is refused; a process killed -9 holding a claim has it
taken over by the next round."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert, select

import core_server.server  # noqa: F401  (every domain's tables and claims registered)
from core_server import clock, db, jobs
from core_server.cluster import nodes
from core_server.cluster.tables import cluster_nodes
from core_server.dicom.commitment_jobs import JOBS, commitment_reports
from core_server.hl7.inbound import CLAIMS as INBOUND
from core_server.hl7.tables import hl7_inbound_messages
from core_server.jobs import takeover
from tests.cluster.harness import wait_for
from tests.postgres import Cluster as Postgres

LEASE = timedelta(hours=1)  # far from running out: only liveness can free these claims
OTHER_HOST = "elsewhere:4242:1:unknown"  # never registered: its lease decides


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = db.make_engine(database_url)
    db.metadata.create_all(made)
    yield made
    made.dispose()


def claimed_job(engine: Engine, owner: str, age: timedelta = timedelta(0)) -> int:
    """A storage commitment report held by ``owner`` since ``age`` ago."""
    now = clock.now() - age
    with db.write(engine) as conn:
        key = conn.execute(
            insert(commitment_reports).values(
                transaction_uid="1.2.3",
                calling_ae="CT1",
                event_type=1,
                report="{}",
                created_at=now,
                status=JOBS.claimed,
                attempts=1,
                next_attempt_at=now,
                claimed_by=owner,
                claimed_until=now + LEASE,
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])


def claimed_message(engine: Engine, owner: str) -> int:
    """An inbound HL7 message ``owner`` is applying."""
    with db.write(engine) as conn:
        key = conn.execute(
            insert(hl7_inbound_messages).values(
                received_at=clock.now(),
                peer="10.0.0.9:5000",
                raw=b"MSH|^~\\&|HIS",
                status="processing",
                processed_at=clock.now(),
                claimed_by=owner,
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])


def job(engine: Engine, job_id: int):  # type: ignore[no-untyped-def]
    with db.read(engine) as conn:
        return conn.execute(
            select(commitment_reports).where(commitment_reports.c.id == job_id)
        ).one()


def register_dead(engine: Engine, owner: str) -> None:
    """A process that registered and is gone: its row, its lock held by nobody."""
    now = clock.now()
    with db.write(engine) as conn:
        conn.execute(
            insert(cluster_nodes).values(
                owner=owner, host="node-b", pid=4321, lock_key=nodes.lock_key(owner),
                started_at=now, seen_at=now,
            )
        )  # fmt: skip


def test_every_claimed_table_of_the_core_is_registered() -> None:
    with_claims = {t.name for t in db.metadata.tables.values() if "claimed_by" in t.c}
    assert {c.table.name for c in jobs.registered()} == with_claims
    assert {"hl7_outbound_jobs", "report_output_objects", "forwarding_tasks"} <= with_claims


def test_a_round_takes_over_the_dead_and_leaves_the_living(engine: Engine) -> None:
    postgres = engine.dialect.name == "postgresql"
    living = nodes.Liveness(engine, "node-a:1:1:living")
    living.start()
    register_dead(engine, "node-b:2:2:dead")
    try:
        old_but_alive = claimed_job(engine, "node-a:1:1:living", age=timedelta(days=3))
        dead_held = claimed_job(engine, "node-b:2:2:dead")
        unknown = claimed_job(engine, OTHER_HOST)
        message = claimed_message(engine, "node-b:2:2:dead")
        released = takeover.Takeover(engine, owner="node-a:1:1:living").round()
        if not postgres:  # one process: nobody is judged dead
            assert released == {} and job(engine, dead_held).status == JOBS.claimed
            return
        assert released == {"dicom_commitment_reports": 1, "hl7_inbound_messages": 1}
        freed = job(engine, dead_held)
        assert (freed.status, freed.claimed_by, freed.attempts) == (jobs.PENDING, None, 1)
        assert freed.next_attempt_at <= clock.now()  # due at once
        assert job(engine, old_but_alive).claimed_by == "node-a:1:1:living"
        assert job(engine, unknown).claimed_by == OTHER_HOST
        with db.read(engine) as conn:
            applied = conn.execute(
                select(hl7_inbound_messages).where(hl7_inbound_messages.c.id == message)
            ).one()
        assert applied.status == "failed" and "resend" in applied.error
        assert takeover.release_dead(engine) == {}  # nothing left to take
    finally:
        living.stop()


def test_a_process_judged_dead_that_finishes_late_is_refused(engine: Engine) -> None:
    """A frozen node's claim taken over: when it wakes, its success and its failure find the
    claim gone and change nothing; the node that took the job over records it."""
    register_dead(engine, "node-b:2:2:frozen")
    job_id = claimed_job(engine, "node-b:2:2:frozen")
    # On SQLite the start-up release is the only one (this host's stopped processes): the
    # claim is handed over as the round would on PostgreSQL.
    JOBS.release(engine, {"node-b:2:2:frozen"})
    taken = JOBS.claim_next(engine, "node-c:3:3:taker", LEASE)
    assert taken is not None and taken.row.id == job_id and taken.attempt == 2
    assert not JOBS.succeed(engine, job_id, "node-b:2:2:frozen", "sent")
    retry = jobs.Retry(5, 60)
    assert JOBS.fail(engine, job_id, 1, "node-b:2:2:frozen", retry, "late") == jobs.LOST
    row = job(engine, job_id)
    assert (row.status, row.claimed_by, row.last_error) == (JOBS.claimed, "node-c:3:3:taker", "")
    assert JOBS.succeed(engine, job_id, "node-c:3:3:taker", "sent")
    assert job(engine, job_id).status == "sent"


def test_release_gone_at_start_takes_the_dead_too(engine: Engine) -> None:
    register_dead(engine, "node-b:2:2:dead")
    held = claimed_job(engine, "node-b:2:2:dead")
    assert INBOUND.release_gone(engine) == 0
    postgres = engine.dialect.name == "postgresql"
    assert JOBS.release_gone(engine) == (1 if postgres else 0)
    assert job(engine, held).status == (jobs.PENDING if postgres else JOBS.claimed)


# A node in miniature: registers, holds one claim, and is killed -9 while holding it.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from core_server import clock, db
    from core_server.cluster import nodes
    from core_server.dicom import commitment_jobs
    from pydicom import Dataset
    engine = db.make_engine(sys.argv[1])
    nodes.Liveness(engine, sys.argv[2]).start()
    found = Dataset()
    found.TransactionUID = "1.2.3.4"
    print(commitment_jobs.owe(engine, "CT1", found, 1, sys.argv[2]), flush=True)
    time.sleep(600)
    """
)


def test_a_node_killed_holding_a_claim_has_it_taken_over(pg_engine_full: Engine) -> None:
    url = pg_engine_full.url.render_as_string(hide_password=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, "node-k:9:9:killed"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        job_id = int(holder.stdout.readline())
        round_ = takeover.Takeover(pg_engine_full, owner="node-a:1:1:survivor")
        assert round_.round() == {}  # alive: its claim stays
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        wait_for(lambda: round_.round() == {"dicom_commitment_reports": 1}, "the take-over")
        taken = JOBS.claim_next(pg_engine_full, "node-a:1:1:survivor", LEASE)
        assert taken is not None and taken.row.id == job_id
    finally:
        holder.kill()


@pytest.fixture
def pg_engine_full(postgres: Postgres) -> Iterator[Engine]:
    made = db.make_engine(postgres.new_database())
    db.metadata.create_all(made)
    yield made
    made.dispose()
