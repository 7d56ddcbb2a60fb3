"""An order placer's Study Instance UID is the exam's: checked as a UID, unique among exams and
their linked studies, changeable while the exam has not started (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from pydicom.uid import generate_uid

from core_server.ris import Conflict, OrderIn, PatientIn, ProcedureRequest, Ris, RisError
from core_server.ris.tables import ris_exam_studies


def order(ris: Ris, placer: str, *uids: str, change: bool = False) -> list[str]:
    """Place (or change) an order with one CT per UID; the exams' Study Instance UIDs."""
    procedures = tuple(
        ProcedureRequest("CT-CHEST", accession_number=f"{placer}-{n}", study_instance_uid=uid)
        for n, uid in enumerate(uids)
    )
    placed = OrderIn(placer, procedures, placer_application="HIS")
    if change:
        done = ris.change_order(placed, username="hl7:HIS")
    else:
        done = ris.place_order("P1", "", placed, username="hl7:HIS")
    return [e.study_instance_uid for e in sorted(done.exams, key=lambda e: e.accession_number)]


def test_the_placer_study_uid_is_kept_checked_and_unique(ris: Ris) -> None:
    ris.register_patient(PatientIn("P1", "张三"), username="reg")
    given = generate_uid()
    made, kept = order(ris, "O1", "", f" {given} ")
    assert kept == given and made != given and made.startswith(("1.", "2."))
    for bad in ("1.2.03", "1.2.x", "1." + "2" * 70):
        with pytest.raises(RisError, match="not a valid Study Instance UID"):
            order(ris, "O2", bad)
    with pytest.raises(Conflict, match="belongs to another exam"):
        order(ris, "O3", given)
    # A study linked to an exam (images under the modality's own UID) is taken too.
    exam = ris.exam_by_accession("O1-0")
    with ris.engine.begin() as conn:  # as reconciliation.link records it
        conn.execute(
            ris_exam_studies.insert().values(
                exam_fk=exam.id,
                study_instance_uid="1.2.3.4",
                linked_by="t",
                linked_at=exam.created_at,
            )
        )
    with pytest.raises(Conflict):
        order(ris, "O4", "1.2.3.4")
    # The HIS changes the order (XO) before the exam started: the new UID replaces the old.
    again = generate_uid()
    assert order(ris, "O1", "", again, change=True) == [made, again]
    ris.change_status(ris.exam_by_accession("O1-1").id, "arrived", username="desk")
    ris.change_status(ris.exam_by_accession("O1-1").id, "in_progress", username="tech")
    assert order(ris, "O1", "", generate_uid(), change=True) == [made, again]  # started: kept
