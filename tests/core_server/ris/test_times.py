"""RIS times with the machine in UTC and the hospital in Asia/Shanghai (SQLite and
PostgreSQL): scheduled times, appointments and performed steps are aware moments; a time
without a zone is the hospital's wall clock; days, slots, the worklist's DA/TM and no-shows
are the hospital's; check-in on another day than the booked one needs a confirmation, which
the history keeps."""

from __future__ import annotations

import time as system_time
from datetime import UTC, date, datetime, time, timedelta

import pytest

from core_server import clock
from core_server.ris import Conflict, OrderIn, PatientIn, ProcedureRequest, Ris

# 2026-12-08 06:30 UTC is 14:30 in the hospital; 2026-12-08 20:00 UTC is already the 9th there.
AFTERNOON = datetime(2026, 12, 8, 14, 30)  # hospital wall clock
LATE_EVENING_UTC = datetime(2026, 12, 8, 20, 0, tzinfo=UTC)


def _exam(ris: Ris, placer: str, scheduled_at: datetime | None, code: str = "CT-CHEST"):
    if not ris.find_patients(patient_id="P1"):
        ris.register_patient(PatientIn("P1", "张三"), username="reg")
    order = OrderIn(placer, (ProcedureRequest(code, room="CT1", scheduled_at=scheduled_at),))
    return ris.place_order("P1", "", order, username="hl7:HIS").exams[0]


def test_the_machine_runs_in_utc() -> None:
    assert system_time.tzname[0] == "UTC" and clock.zone().key == "Asia/Shanghai"


def test_scheduled_times_are_aware_and_naive_ones_are_hospital_time(ris: Ris) -> None:
    naive = _exam(ris, "O1", AFTERNOON)
    assert naive.scheduled_at == datetime(2026, 12, 8, 6, 30, tzinfo=UTC)
    assert naive.as_dict()["scheduled_at"] == "2026-12-08T14:30:00+08:00"
    aware = _exam(ris, "O2", LATE_EVENING_UTC)  # as the HL7 mapping hands them over
    assert aware.scheduled_at == LATE_EVENING_UTC
    # The hospital's day: the 20:00 UTC exam belongs to the 9th.
    assert [e.id for e in ris.exams(day=date(2026, 12, 8))] == [naive.id]
    assert [e.id for e in ris.exams(day=date(2026, 12, 9))] == [aware.id]
    # An order change (XO) with a naive time reads it as hospital time too.
    changed = ris.change_order(
        OrderIn("O1", (ProcedureRequest("CT-CHEST", scheduled_at=datetime(2026, 12, 8, 9, 0)),)),
        username="hl7:HIS",
    )
    assert clock.local(changed.exams[0].scheduled_at).hour == 9
    # A walk-in is scheduled now; a retake too.
    walk_in = _exam(ris, "O3", None)
    assert abs(walk_in.scheduled_at - clock.now()) < timedelta(minutes=1)
    assert walk_in.scheduled_at.tzinfo is not None


def test_the_worklist_sends_and_matches_hospital_dates_and_times(ris: Ris) -> None:
    evening = _exam(ris, "O1", LATE_EVENING_UTC)  # 2026-12-09 04:00 in the hospital
    (item,) = ris.worklist({"AccessionNumber": evening.accession_number})
    step = item.attributes["ScheduledProcedureStepSequence"][0]
    assert (step["ScheduledProcedureStepStartDate"], step["ScheduledProcedureStepStartTime"]) == (
        "20261209",
        "040000",
    )

    def found(**keys: str) -> list[int]:
        return [i.exam.id for i in ris.worklist(keys)]

    assert found(ScheduledProcedureStepStartDate="20261209") == [evening.id]
    assert found(ScheduledProcedureStepStartDate="20261208") == []
    assert found(ScheduledProcedureStepStartDate="20261201-20261209") == [evening.id]
    assert found(ScheduledProcedureStepStartTime="0300-0500") == [evening.id]


def test_slots_and_bookings_are_the_hospitals(ris: Ris) -> None:
    exam = _exam(ris, "O1", AFTERNOON)
    day = date(2026, 12, 9)
    first = ris.slots("CT1", day)[0]
    assert first.start == datetime(2026, 12, 9, 0, 0, tzinfo=UTC)  # 08:00 in the hospital
    assert first.as_dict()["start"] == "2026-12-09T08:00:00+08:00"
    # Booked by the wall clock the page sends (no offset), or by the aware start.
    booked = ris.book(exam.id, "CT1", datetime(2026, 12, 9, 8, 10), username="desk")
    assert booked.start == datetime(2026, 12, 9, 0, 10, tzinfo=UTC)
    assert ris.slots("CT1", day)[1].free == 0
    assert ris.exam(exam.id).scheduled_at == booked.start
    with pytest.raises(Conflict, match="full"):
        other = _exam(ris, "O2", AFTERNOON)
        ris.book(other.id, "CT1", datetime(2026, 12, 9, 0, 10, tzinfo=UTC), username="desk")


def test_performed_steps_keep_aware_times(ris: Ris) -> None:
    exam = _exam(ris, "O1", AFTERNOON)
    step = ris.performed_step_created(
        "1.2.3",
        {
            "PerformedProcedureStepStatus": "IN PROGRESS",
            "AccessionNumber": exam.accession_number,
            "PerformedProcedureStepStartDate": "20261208",
            "PerformedProcedureStepStartTime": "143000",
        },
        station_ae="CT01",
    )
    assert step.started_at == datetime(2026, 12, 8, 6, 30, tzinfo=UTC)
    done = ris.performed_step_set(
        "1.2.3",
        {
            "PerformedProcedureStepStatus": "COMPLETED",
            "PerformedProcedureStepEndDate": "20261208",
            "PerformedProcedureStepEndTime": "144500.123",
        },
        station_ae="CT01",
    )
    assert done.ended_at == datetime(2026, 12, 8, 6, 45, tzinfo=UTC)
    assert ris.performed_steps(exam.id)[0].as_dict()["ended_at"] == "2026-12-08T14:45:00+08:00"


def test_no_shows_by_the_hospitals_day(ris: Ris) -> None:
    today = clock.today()
    start_of_today = clock.local_day_bounds(today)[0]
    last_night = _exam(ris, "O1", start_of_today - timedelta(minutes=30))
    this_morning = _exam(ris, "O2", start_of_today + timedelta(minutes=30))
    marked = ris.mark_no_shows(today, username="desk")
    assert [e.id for e in marked] == [last_night.id]
    assert ris.exam(this_morning.id).status == "scheduled"


def test_check_in_on_another_day_needs_a_confirmation(ris: Ris) -> None:
    tomorrow = clock.from_local(datetime.combine(clock.today() + timedelta(days=1), time(8, 30)))
    booked = _exam(ris, "O1", tomorrow)
    with pytest.raises(Conflict) as refused:
        ris.check_in(booked.id, username="desk")
    assert refused.value.code == "ris.exam.check_in_other_day"
    assert refused.value.values["scheduled_at"] == clock.iso(tomorrow)
    assert refused.value.values["scheduled"].endswith("08:30")
    assert "not today" in str(refused.value)
    assert ris.exam(booked.id).status == "scheduled"  # nothing happened
    arrived = ris.check_in(booked.id, username="desk", confirm_other_day=True)
    assert arrived.status == "arrived"
    step = ris.history(booked.id)[-1]
    assert (step.new_status, step.username) == ("arrived", "desk")
    assert "confirmed" in step.reason and "08:30" in step.reason
    # Today's exam needs no confirmation; an illegal step says so before the date does.
    assert ris.check_in(_exam(ris, "O2", None).id, username="desk").status == "arrived"
    cancelled = _exam(ris, "O3", tomorrow)
    ris.cancel_order(placer_order_number="O3", username="hl7:HIS")
    with pytest.raises(Conflict) as illegal:
        ris.check_in(cancelled.id, username="desk")
    assert illegal.value.code == "ris.status.illegal_step"
