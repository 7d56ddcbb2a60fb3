"""Leases that run out (the kiosk died): the job is queued again with a step saying so, failed
after three; a core restart ends leases that ran out while it was down. Both backends."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from core_server import clock, db
from core_server.discs.tables import disc_jobs
from tests.conftest import RunningCore
from tests.core_server.discs.conftest import Desk, desk_on


def _expire(core: RunningCore, job_id: int) -> None:
    with db.write(core.core.engine) as conn:
        conn.execute(
            update(disc_jobs)
            .where(disc_jobs.c.id == job_id)
            .values(lease_until=clock.now() - timedelta(seconds=1))
        )


def test_a_dead_kiosk_gives_the_job_back_and_three_deaths_fail_it(desk: Desk) -> None:
    kiosk, spare = desk.kiosk("kiosk-dies"), desk.kiosk("kiosk-spare")
    job = desk.registrar.post("/api/discs", json={"exam_ids": [desk.exam("P500")]}).json()
    sweep = desk.core.app.state.disc_jobs.sweep
    path = f"/api/discs/{job['id']}/progress"
    for n in (1, 2, 3):
        holder = kiosk if n != 2 else spare
        assert holder.post("/api/discs/claim").json()["id"] == job["id"]
        holder.post(path, json={"state": "burning", "disc": 1}).raise_for_status()
        assert sweep() == 0  # the lease still runs
        _expire(desk.core, job["id"])
        assert sweep() == 1
        after = desk.registrar.get(f"/api/discs/{job['id']}").json()
        assert after["interruptions"] == n and after["holder"] is None
        assert after["steps"][-1]["reason"] == "lease_expired"
        assert after["state"] == ("failed" if n == 3 else "queued")
        # The kiosk that lost its lease can never finish the job.
        late = holder.post(path, json={"state": "done"})
        assert late.status_code == 409 and late.json()["detail"]["code"] == "discs.not_holder"
    assert kiosk.post("/api/discs/claim").status_code == 204  # failed: not handed out again
    retried = desk.registrar.post(f"/api/discs/{job['id']}/retry").json()
    assert retried["state"] == "queued" and retried["interruptions"] == 0


def test_a_core_restart_ends_leases_that_ran_out_meanwhile(
    tmp_path: Path, database_url: str
) -> None:
    first = RunningCore(tmp_path / "data", database_url).start()
    desk = desk_on(first)
    kiosk = desk.kiosk("kiosk-r")
    job = desk.registrar.post("/api/discs", json={"exam_ids": [desk.exam("P600")]}).json()
    assert kiosk.post("/api/discs/claim").json()["state"] == "building"
    first.stop()
    _expire(first, job["id"])  # the core was down longer than the lease
    first.core.engine.dispose()
    second = RunningCore(tmp_path / "data", database_url).start()
    try:
        with second.api() as admin:
            after = admin.get(f"/api/discs/{job['id']}").json()
        assert after["state"] == "queued" and after["steps"][-1]["reason"] == "lease_expired"
    finally:
        second.stop()
