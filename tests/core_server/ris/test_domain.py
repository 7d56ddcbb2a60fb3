"""The RIS domain on SQLite and PostgreSQL: patients, orders, exam status, appointments,
requisitions, worklist matching, MPPS."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from core_server import clock
from core_server.ris import (
    Conflict,
    ExamStatus,
    IllegalTransition,
    NotFound,
    OrderIn,
    PatientIn,
    ProcedureRequest,
    Ris,
    RisError,
    VisitIn,
)
from tests.core_server.ris.conftest import Recorder

CARD = "11010519491231002X"  # a valid number: born 1949-12-31, female


def _patient(ris: Ris, patient_id: str = "P1", name: str = "张三", **extra: object):
    return ris.register_patient(PatientIn(patient_id, name, **extra), username="reg")  # type: ignore[arg-type]


def _order(ris: Ris, placer: str = "ORD1", *codes: str, patient_id: str = "P1", **extra: object):
    procedures = tuple(ProcedureRequest(code) for code in codes or ("CT-CHEST",))
    return ris.place_order(
        patient_id,
        "",
        OrderIn(placer, procedures, **extra),  # type: ignore[arg-type]
        username="hl7:HIS",
    )


def test_register_find_update_and_merge_patients(ris: Ris) -> None:
    zhang = _patient(ris, name="张三", id_card_number=CARD, phone="13800138000")
    assert zhang.name_pinyin == "ZHANG^SAN"
    assert zhang.dicom_name == "ZHANG^SAN=张^三"
    assert (zhang.birth_date, zhang.sex) == (date(1949, 12, 31), "F")  # from the card
    # Found by ID, card number, name + birth date, pinyin initials.
    assert [p.patient_id for p in ris.find_patients(id_card_number=CARD.lower())] == ["P1"]
    assert [
        p.patient_id for p in ris.find_patients(name="张三", birth_date=date(1949, 12, 31))
    ] == ["P1"]
    assert [p.patient_id for p in ris.find_patients(text="zs")] == ["P1"]
    assert ris.find_patients(name="张三", birth_date=date(1950, 1, 1)) == []
    # A card that disagrees with the birth date is refused, and nothing changes.
    with pytest.raises(RisError, match="birth date"):
        _patient(ris, id_card_number=CARD, birth_date=date(1950, 1, 1))
    # Registering a known ID again updates it (A04 on a known patient).
    renamed = _patient(ris, name="单田芳", id_card_number=CARD)
    assert (renamed.id, renamed.name_pinyin) == (zhang.id, "SHAN^TIANFANG")
    # A40: merge P2 into P1; orders move, P2 is kept as merged.
    _patient(ris, "P2", "单田芳")
    _order(ris, "ORD-P2", patient_id="P2")
    with pytest.raises(Conflict, match="itself"):
        ris.merge_patients(("P1", ""), ("P1", ""), username="hl7")
    ris.merge_patients(("P1", ""), ("P2", ""), username="hl7")
    assert ris.patient("P2").merged_into == "P1"
    assert ris.order(placer_order_number="ORD-P2").patient_id == "P1"
    assert [p.patient_id for p in ris.find_patients(name="单田芳")] == ["P1"]
    with pytest.raises(Conflict, match="merged"):
        _patient(ris, "P2", "单田芳")
    with pytest.raises(NotFound):
        ris.patient("nobody")


def test_orders_generate_numbers_and_refuse_duplicates(ris: Ris, status_events: Recorder) -> None:
    _patient(ris)
    visit = ris.create_visit("P1", "", VisitIn("V1", "inpatient", ward="3A"), username="hl7")
    assert visit.status == "active"
    order = _order(ris, "ORD1", "CT-CHEST", "US-ABD", visit_number="V1", emergency=True)
    assert order.filler_order_number.startswith("F")
    accessions = [e.accession_number for e in order.exams]
    assert len(set(accessions)) == 2 and all(len(a) <= 16 for a in accessions)
    ct, us = order.exams
    assert (ct.modality, ct.body_part, ct.procedure_name) == ("CT", "CHEST", "胸部CT平扫")
    assert (us.modality, us.status, us.emergency) == ("US", "scheduled", True)
    assert ct.study_instance_uid != us.study_instance_uid
    assert [e["new_status"] for e in status_events.events] == ["scheduled", "scheduled"]
    with pytest.raises(Conflict, match="ORD1"):
        _order(ris, "ORD1")
    with pytest.raises(NotFound, match="NOPE"):
        _order(ris, "ORD2", "NOPE")
    with pytest.raises(Conflict, match=accessions[0]):
        ris.place_order(
            "P1",
            "",
            OrderIn("ORD3", (ProcedureRequest("CT-HEAD", accession_number=accessions[0]),)),
            username="hl7",
        )
    # The failed orders left nothing behind.
    assert len(ris.exams(patient_id="P1")) == 2
    # A11: cancelling the visit cancels its exams not yet started.
    ris.cancel_visit("V1", username="hl7")
    assert {e.status for e in ris.exams(patient_id="P1")} == {"cancelled"}


def test_exam_status_machine_with_history_and_events(ris: Ris, status_events: Recorder) -> None:
    _patient(ris)
    exam = _order(ris).exams[0]
    ris.check_in(exam.id, username="desk")
    ris.change_status(exam.id, ExamStatus.IN_PROGRESS, username="tech")
    with pytest.raises(IllegalTransition, match="in_progress to verified"):
        ris.change_status(exam.id, "verified", username="tech")
    with pytest.raises(IllegalTransition, match="unknown"):
        ris.change_status(exam.id, "lost", username="tech")
    done = ris.change_status(exam.id, ExamStatus.COMPLETED, username="tech")
    assert (done.status, done.status_by) == ("completed", "tech")
    steps = [(h.old_status, h.new_status, h.username) for h in ris.history(exam.id)]
    assert steps == [
        (None, "scheduled", "hl7:HIS"),
        ("scheduled", "arrived", "desk"),
        ("arrived", "in_progress", "tech"),
        ("in_progress", "completed", "tech"),
    ]
    last = status_events.events[-1]
    assert last["exam_id"] == exam.id
    assert last["accession_number"] == exam.accession_number
    assert (last["old_status"], last["new_status"], last["username"]) == (
        "in_progress",
        "completed",
        "tech",
    )
    assert last["patient_id"] == "P1" and last["at"]
    # A completed exam's order cannot be cancelled; a retake is a new arrived exam.
    with pytest.raises(Conflict, match="started"):
        ris.cancel_order(placer_order_number="ORD1", username="hl7")
    again = ris.retake(exam.id, "repeat", username="tech", reason="motion")
    assert (again.status, again.retake_of, again.retake_kind) == ("arrived", exam.id, "repeat")
    assert again.accession_number != exam.accession_number
    with pytest.raises(RisError, match="retake kind"):
        ris.retake(exam.id, "twice", username="tech")
    # Changing the exam item: allowed before completion, refused after.
    changed = ris.change_procedure(again.id, "CT-CHEST-LD", username="tech")
    assert changed.procedure_code == "CT-CHEST-LD"
    with pytest.raises(Conflict, match="completed"):
        ris.change_procedure(exam.id, "CT-HEAD", username="tech")


def test_order_change_and_cancel(ris: Ris) -> None:
    _patient(ris)
    order = _order(ris, "ORD1", "CT-CHEST", "DR-CHEST-PA")
    later = clock.now().replace(microsecond=0) + timedelta(days=1)
    changed = ris.change_order(
        OrderIn(
            "ORD1",
            (
                ProcedureRequest("CT-CHEST", scheduled_at=later, room="CT1"),
                ProcedureRequest("US-ABD"),
            ),
            priority="stat",
        ),
        username="hl7",
    )
    by_code = {e.procedure_code: e for e in changed.exams}
    assert by_code["CT-CHEST"].scheduled_at == later
    assert (by_code["CT-CHEST"].room, by_code["CT-CHEST"].station_ae) == ("CT1", "CT01")
    assert by_code["DR-CHEST-PA"].status == "cancelled"  # gone from the order
    assert by_code["US-ABD"].status == "scheduled"  # added
    assert changed.priority == "STAT"
    cancelled = ris.cancel_order(filler_order_number=order.filler_order_number, username="hl7")
    assert cancelled.status == "cancelled"
    assert {e.status for e in cancelled.exams} == {"cancelled"}
    with pytest.raises(IllegalTransition):
        ris.check_in(by_code["CT-CHEST"].id, username="desk")


def test_appointments_slots_and_capacity(ris: Ris) -> None:
    _patient(ris)
    _patient(ris, "P2", "李四")
    first = _order(ris, "ORD1", "CT-HEAD").exams[0]
    second = _order(ris, "ORD2", "CT-HEAD", patient_id="P2").exams[0]
    day = clock.today() + timedelta(days=1)
    slots = ris.slots("CT1", day)
    assert slots[0].start == clock.from_local(datetime.combine(day, time(8)))
    assert all(s.free == 1 for s in slots)
    start = slots[3].start
    booked = ris.book(first.id, "CT1", start, username="desk")
    assert booked.start == start
    assert ris.exam(first.id).scheduled_at == start
    assert ris.exam(first.id).station_ae == "CT01"
    assert ris.slots("CT1", day)[3].free == 0
    with pytest.raises(Conflict, match="full"):
        ris.book(second.id, "CT1", start, username="desk")
    with pytest.raises(RisError, match="not a slot"):
        ris.book(second.id, "CT1", start + timedelta(minutes=3), username="desk")
    with pytest.raises(RisError, match="US"):
        ris.book(second.id, "US1", start, username="desk")
    # Rebooking moves the appointment and frees the old slot.
    ris.book(first.id, "CT1", slots[4].start, username="desk")
    assert ris.slots("CT1", day)[3].free == 1
    assert [e.id for e in ris.exams(day=day, room="CT1")] == [first.id]


def test_requisition_scans_are_stored_durably(ris: Ris) -> None:
    _patient(ris)
    exam = _order(ris).exams[0]
    scan = b"%PDF-1.4\n" + bytes(range(256)) * 10
    saved = ris.attach_requisition(exam.id, "申请单.pdf", "", scan, username="desk")
    assert (saved.content_type, saved.size) == ("application/pdf", len(scan))
    found, path = ris.requisition_file(saved.id)
    assert found == saved and path.read_bytes() == scan
    assert ris.requisitions(exam.id) == [saved]
    with pytest.raises(RisError, match="PDF"):
        ris.attach_requisition(exam.id, "x.exe", "", b"MZ\x90\x00", username="desk")
    with pytest.raises(NotFound):
        ris.attach_requisition(9999, "x.pdf", "", scan, username="desk")
    assert len(ris.requisitions(exam.id)) == 1


def test_worklist_matching(ris: Ris) -> None:
    _patient(ris, name="张三", id_card_number=CARD)
    _patient(ris, "P2", "李四")
    now = clock.local().replace(microsecond=0)  # the hospital's wall clock, aware
    ct = ris.place_order(
        "P1",
        "",
        OrderIn("ORD1", (ProcedureRequest("CT-CHEST", room="CT1", scheduled_at=now),)),
        username="reg",
    ).exams[0]
    dr = _order(ris, "ORD2", "DR-CHEST-PA", patient_id="P2").exams[0]
    today = now.strftime("%Y%m%d")

    def found(**keys: str) -> list[str]:
        return [item.exam.accession_number for item in ris.worklist(keys)]

    assert found(ScheduledStationAETitle="CT01") == [ct.accession_number]
    assert found(Modality="DX") == [dr.accession_number]
    # DR exams without a room are listed for the station of the DR room.
    assert found(ScheduledStationAETitle="DR01") == [dr.accession_number]
    assert found(ScheduledProcedureStepStartDate=today, PatientName="zhang*") == [
        ct.accession_number
    ]
    assert found(PatientName="张*") == [ct.accession_number]
    assert found(PatientName="LI^SI") == [dr.accession_number]
    assert found(ScheduledProcedureStepStartDate="20000101-20000102") == []
    assert sorted(found(ScheduledProcedureStepStartDate=f"{today}-")) == sorted(
        [ct.accession_number, dr.accession_number]
    )
    assert found(AccessionNumber=ct.accession_number, Modality="C?") == [ct.accession_number]
    item = next(iter(ris.worklist({"AccessionNumber": ct.accession_number})))
    assert item.attributes["PatientName"] == "ZHANG^SAN=张^三"
    step = item.attributes["ScheduledProcedureStepSequence"][0]
    assert step["ScheduledStationAETitle"] == "CT01"
    assert step["ScheduledProcedureStepStartDate"] == today
    # Completed and cancelled exams leave the worklist.
    ris.change_status(ct.id, "in_progress", username="tech")
    ris.change_status(ct.id, "completed", username="tech")
    assert found(ScheduledStationAETitle="CT01") == []
    with pytest.raises(RisError, match="YYYYMMDD"):
        found(ScheduledProcedureStepStartDate="tomorrow")


def test_performed_steps_move_the_exam(ris: Ris, status_events: Recorder) -> None:
    _patient(ris)
    first, second = _order(ris, "ORD1", "CT-CHEST", "CT-HEAD").exams
    ris.performed_step_created(
        "1.2.3.1",
        {"PerformedProcedureStepStatus": "IN PROGRESS", "AccessionNumber": first.accession_number},
        station_ae="CT01",
    )
    assert ris.exam(first.id).status == "in_progress"
    assert status_events.events[-1]["username"] == "mpps:CT01"
    with pytest.raises(Conflict):
        ris.performed_step_created(
            "1.2.3.1", {"PerformedProcedureStepStatus": "IN PROGRESS"}, station_ae="CT01"
        )
    step = ris.performed_step_set(
        "1.2.3.1", {"PerformedProcedureStepStatus": "COMPLETED"}, station_ae="CT01"
    )
    assert step.status == "COMPLETED"
    assert ris.exam(first.id).status == "completed"
    with pytest.raises(Conflict, match="cannot change"):
        ris.performed_step_set(
            "1.2.3.1", {"PerformedProcedureStepStatus": "DISCONTINUED"}, station_ae="CT01"
        )
    # Matched by the Study Instance UID the worklist gave; discontinued -> back to arrived.
    ris.performed_step_created(
        "1.2.3.2",
        {
            "PerformedProcedureStepStatus": "IN PROGRESS",
            "StudyInstanceUID": second.study_instance_uid,
        },
        station_ae="CT01",
    )
    ris.performed_step_set(
        "1.2.3.2",
        {
            "PerformedProcedureStepStatus": "DISCONTINUED",
            "PerformedProcedureStepDiscontinuationReason": "patient unwell",
        },
        station_ae="CT01",
    )
    assert ris.exam(second.id).status == "arrived"
    assert "patient unwell" in ris.history(second.id)[-1].reason
    # An unscheduled step is kept without an exam.
    unscheduled = ris.performed_step_created(
        "1.2.3.3", {"PerformedProcedureStepStatus": "IN PROGRESS"}, station_ae="CT01"
    )
    assert unscheduled.exam_id is None
    with pytest.raises(NotFound):
        ris.performed_step_set("9.9", {"PerformedProcedureStepStatus": "COMPLETED"}, station_ae="X")


def test_concurrent_orders_get_distinct_numbers(ris: Ris) -> None:
    """Eight desks registering at once: every generated accession number is distinct, and of
    two orders claiming one accession number, one wins and the other is told so."""
    from concurrent.futures import ThreadPoolExecutor

    for i in range(8):
        _patient(ris, f"P{i}", "王五")

    def place(i: int) -> list[str]:
        order = _order(ris, f"C{i}", "DR-CHEST-PA", "US-ABD", patient_id=f"P{i}")
        return [e.accession_number for e in order.exams]

    with ThreadPoolExecutor(8) as pool:
        numbers = [n for batch in pool.map(place, range(8)) for n in batch]
    assert len(numbers) == len(set(numbers)) == 16

    def claim(i: int) -> str:
        request = ProcedureRequest("CT-HEAD", accession_number="SAME0001")
        try:
            ris.place_order(f"P{i}", "", OrderIn(f"S{i}", (request,)), username="hl7")
        except Conflict:
            return "refused"
        return "placed"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(claim, range(4)))
    assert outcomes == ["placed", "refused", "refused", "refused"]


def test_end_of_day_no_shows(ris: Ris, status_events: Recorder) -> None:
    _patient(ris)
    yesterday = clock.now().replace(microsecond=0) - timedelta(days=1)
    order = ris.place_order(
        "P1",
        "",
        OrderIn(
            "ORD1",
            (
                ProcedureRequest("CT-HEAD", scheduled_at=yesterday),
                ProcedureRequest("US-ABD", scheduled_at=yesterday),
                ProcedureRequest("DR-CHEST-PA"),  # today
            ),
        ),
        username="reg",
    )
    came, missed, today = order.exams
    ris.check_in(came.id, username="desk", confirm_other_day=True)
    marked = ris.mark_no_shows(clock.today(), username="desk")
    assert [e.id for e in marked] == [missed.id]
    assert ris.exam(missed.id).status == "no_show"
    assert {ris.exam(came.id).status, ris.exam(today.id).status} == {"arrived", "scheduled"}
    assert status_events.events[-1]["new_status"] == "no_show"
    # A late arrival is still welcome.
    assert ris.check_in(missed.id, username="desk", confirm_other_day=True).status == "arrived"
