"""The rules' runner on SQLite and PostgreSQL with two real filesystem areas: tasks made by
evaluating the rules and done through the tiers API; a move drops the online file only with
``min_verified`` verified copies elsewhere; idle hours, "run now", the pause under ingest
load, land rules at any hour, retention of copies, dead tasks and re-queue, prefetch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from core_server import clock, db, jobs
from core_server.archive import copies
from core_server.archive.areas import tables as at
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from core_server.storage.tiers import rules, runner_tasks, schedule
from tests.core_server.storage.rules.conftest import World

ALL_DAY = {"idle_start": "00:00", "idle_end": "00:00"}


def _add(world: World, **body: object) -> rules.Rule:
    rule = rules.rule_from(
        {"name": "r", "action": "copy", "area": "near", **body}, world.archive.areas
    )
    made = rules.create(world.engine, rule, "admin")
    world.runner.rules_changed()
    return made


def _closed_now() -> dict[str, str]:
    """An idle window that does not hold the present hour."""
    later = clock.local() + timedelta(hours=2)
    return {
        "idle_start": later.strftime("%H:00"),
        "idle_end": (later + timedelta(hours=1)).strftime("%H:00"),
    }


def _run(world: World, urgent_only: bool = False) -> int:
    return world.runner.run_due(schedule.load(world.engine), urgent_only=urgent_only)


def test_copy_rule_copies_once_and_verifies(world: World) -> None:
    schedule.save(world.engine, ALL_DAY)
    _, uids = world.store(3)
    rule = _add(world)
    assert world.runner.evaluate() == {rule.id: 3}
    assert world.runner.evaluate() == {rule.id: 0}  # open tasks are not made twice
    assert _run(world) == 3
    for uid in uids:
        (copy,) = copies.copies_of(world.engine, uid)
        assert copy.area == "near" and copy.verified
    assert runner_tasks.counts(world.engine)["done"] == 3
    assert world.runner.evaluate() == {rule.id: 0}  # done: nothing left to select


def test_move_drops_online_only_with_enough_verified_copies(world: World) -> None:
    schedule.save(world.engine, ALL_DAY)
    _, uids = world.store(2)
    move = _add(world, action="move", area="far", min_verified=2)
    world.runner.evaluate()
    _run(world)
    # One verified copy (on far) is not two: the files stay, the tasks wait with the reason.
    assert all(world.online_file(u).exists() for u in uids)
    assert copies.not_online(world.engine, uids) == set()
    waiting = runner_tasks.listing(world.engine, jobs.PENDING)
    assert len(waiting) == 2 and "fewer than 2 verified copies" in waiting[0]["last_error"]
    # A copy rule to near gives the second copy; the waiting moves then go through.
    _add(world, action="copy", area="near", priority=1)
    world.runner.evaluate()
    assert _run(world) == 2  # the copies; the moves wait out their back-off
    for task in waiting:
        runner_tasks.requeue(world.engine, task["id"])
    _run(world)
    assert copies.not_online(world.engine, uids) == set(uids)
    assert not any(world.online_file(u).exists() for u in uids)
    for uid in uids:
        assert {c.area for c in copies.copies_of(world.engine, uid) if c.verified} == {
            "near",
            "far",
        }
    assert move.id is not None
    # Recall still brings them back from the fastest copy.
    assert world.archive.recall(uids) == 2 and all(world.online_file(u).exists() for u in uids)


def test_outside_idle_hours_only_land_tasks_run_and_run_now_lifts_it(world: World) -> None:
    schedule.save(world.engine, _closed_now())
    _add(world, action="copy", area="far")
    _add(world, action="land", area="near")
    _, uids = world.store(2)  # the land rule hears them stored
    world.runner.round()
    on = {u: {c.area for c in copies.copies_of(world.engine, u)} for u in uids}
    assert on == {u: {"near"} for u in uids}  # landed at once; the copy to far waits
    assert runner_tasks.counts(world.engine)["pending"] == 0  # not even evaluated outside
    world.runner.run_now()
    world.runner.round()
    on = {u: {c.area for c in copies.copies_of(world.engine, u)} for u in uids}
    assert on == {u: {"near", "far"} for u in uids}
    assert schedule.load(world.engine).run_now_until is None  # cleared once all was done


def test_the_runner_pauses_while_ingest_is_busy(world: World) -> None:
    schedule.save(world.engine, {**ALL_DAY, "busy_per_minute": 5})
    _add(world)
    world.store(2)
    world.runner.evaluate()
    world.runner.meter.note(10)
    assert _run(world) == 0 and world.runner.paused_for_ingest
    assert world.runner.status()["paused_for_ingest"] is True
    world.runner.meter = schedule.IngestMeter()  # a quiet minute
    assert _run(world) == 2 and not world.runner.paused_for_ingest


def test_retention_erases_a_copy_but_never_the_last_of_an_object_not_online(world: World) -> None:
    schedule.save(world.engine, ALL_DAY)
    _, (kept, gone) = world.store(2)
    for uid in (kept, gone):
        copies.copy_to(world.engine, world.archive.areas, uid, "near")
    assert copies.drop_online(world.engine, world.archive.areas, kept)
    with db.write(world.engine) as conn:
        conn.execute(update(at.archive_copies).values(created_at=clock.now() - timedelta(days=20)))
    _add(world, action="delete_copy_after", days=15)
    world.runner.evaluate()
    assert _run(world) == 2
    assert [c.area for c in copies.copies_of(world.engine, kept)] == ["near"]  # its only one
    assert copies.copies_of(world.engine, gone) == []
    assert world.online_file(gone).exists()
    notes = {
        t["sop_instance_uid"]: t["last_error"] for t in runner_tasks.listing(world.engine, "done")
    }
    assert "only copy" in notes[kept] and notes[gone] == ""


def test_dead_tasks_keep_their_error_and_can_be_requeued(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule.save(world.engine, ALL_DAY)
    _, uids = world.store(1)
    _add(world, area="near")
    world.runner.evaluate()
    root = world.archive.areas.get("near").root  # type: ignore[attr-defined]
    away = root.with_name(root.name + ".away")
    root.rename(away)  # the area's disk is gone
    monkeypatch.setattr(runner_tasks, "RETRY", jobs.Retry(first=0.0, longest=0.0, max_attempts=1))
    _run(world)
    (dead,) = runner_tasks.listing(world.engine, jobs.DEAD)
    assert dead["sop_instance_uid"] == uids[0] and "not there" in dead["last_error"]
    assert world.runner.evaluate()[dead["rule_id"]] == 0  # a dead one is not made again
    away.rename(root)
    assert runner_tasks.requeue_dead(world.engine) == 1
    assert _run(world) == 1 and copies.copies_of(world.engine, uids[0])[0].verified


def test_prefetch_recalls_the_newest_priors_of_tomorrows_patients(world: World) -> None:
    older, old_uids = world.store(2, study_date="20190101")
    newer, new_uids = world.store(2, study_date="20230101")
    other, other_uids = world.store(1, patient_id="P999", study_date="20230101")
    for uid in old_uids + new_uids + other_uids:
        copies.copy_to(world.engine, world.archive.areas, uid, "near")
        assert copies.drop_online(world.engine, world.archive.areas, uid)
    tomorrow = clock.today() + timedelta(days=1)
    nine = datetime.combine(tomorrow, datetime.min.time(), tzinfo=clock.zone()) + timedelta(hours=9)
    world.ris.register_patient(PatientIn("P001", "王^建国"), username="reg")
    order = OrderIn(
        "O9", (ProcedureRequest("CT-CHEST", room="CT1", scheduled_at=nine.astimezone(UTC)),)
    )
    world.ris.place_order("P001", "", order, username="hl7:HIS")
    got = world.runner.prefetch(tomorrow, per_patient=1)
    assert (got.patients, got.studies, got.instances, got.failed) == (1, 1, 2, 0)
    assert copies.not_online(world.engine, new_uids) == set()
    assert copies.not_online(world.engine, old_uids) == set(old_uids)  # beyond the bound
    assert copies.not_online(world.engine, other_uids) == set(other_uids)  # nobody booked
    assert older and newer and other


def test_the_idle_window_is_hospital_time_and_may_span_midnight() -> None:
    assert schedule.in_window("22:00", "06:00", datetime(2026, 12, 7, 15, 0, tzinfo=UTC))  # 23:00
    assert schedule.in_window("22:00", "06:00", datetime(2026, 12, 7, 21, 59, tzinfo=UTC))  # 05:59
    assert not schedule.in_window("22:00", "06:00", datetime(2026, 12, 7, 22, 0, tzinfo=UTC))
    assert not schedule.in_window("01:00", "05:00", datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
    assert schedule.in_window("01:00", "05:00", datetime(2026, 12, 7, 18, 0, tzinfo=UTC))  # 02:00
    assert schedule.in_window("07:00", "07:00", datetime(2026, 12, 7, 6, 0, tzinfo=UTC))


def test_prefetch_day_is_taken_by_one_caller(world: World) -> None:
    assert schedule.claim_prefetch_day(world.engine, "2026-12-07")
    assert not schedule.claim_prefetch_day(world.engine, "2026-12-07")
    assert schedule.claim_prefetch_day(world.engine, "2026-12-08")


def test_the_throttle_waits_for_the_slower_limit() -> None:
    throttle = schedule.Throttle(mb_per_second=1.0, objects_per_second=1000.0)
    assert 0.5 < throttle.pause_after(1_000_000) <= 1.0  # 1 MB at 1 MB/s
    by_count = schedule.Throttle(mb_per_second=1000.0, objects_per_second=2.0)
    by_count.pause_after(10)
    assert 0.5 < by_count.pause_after(10) <= 1.0  # the second object of 2/s
