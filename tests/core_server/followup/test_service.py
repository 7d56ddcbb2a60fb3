"""The follow-up service on SQLite and PostgreSQL: marking, the due/overdue/done lists with
their counts, recording by hand (on the case and on the report), audit, and pathology results
matched by accession number, by order, by patient, or kept unmatched and assigned by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core_server import auth, clock
from core_server.followup import PathologyIn
from core_server.refusals import Conflict, Invalid, NotFound
from tests.core_server.followup.conftest import Clinic


def test_marked_exams_fall_into_due_overdue_and_done(clinic: Clinic) -> None:
    today = clock.today()
    dr = clinic.doctor()
    late, soon, undated, finished = (clinic.exam(author="dr_wang") for _ in range(4))
    clinic.followup.mark(late.id, dr, due_date=today - timedelta(days=1), note="复查CT")
    clinic.followup.mark(soon.id, dr, due_date=today, note="")
    clinic.followup.mark(undated.id, dr, due_date=None)
    clinic.followup.mark(finished.id, dr, due_date=today - timedelta(days=30))
    clinic.followup.complete(finished.id, dr)

    ids = {s: [c.exam_id for c in clinic.followup.cases(s)] for s in ("due", "overdue", "done")}
    # Due today is not overdue; undated cases come after dated ones.
    assert ids == {"due": [soon.id, undated.id], "overdue": [late.id], "done": [finished.id]}
    assert clinic.followup.counts() == {"due": 2, "overdue": 1, "done": 1, "all": 4, "unmatched": 0}
    case = clinic.followup.case(late.id)
    assert case.state == "overdue" and case.note == "复查CT" and case.marked_by == "dr_wang"
    assert case.author == "dr_wang" and case.report_id is not None
    # Marked again: the new date, and a done case is open again.
    clinic.followup.mark(finished.id, dr, due_date=today + timedelta(days=7), note="半年复查")
    again = clinic.followup.case(finished.id)
    assert again.state == "due" and again.done_at is None and again.note == "半年复查"
    assert [c.exam_id for c in clinic.followup.cases("due", author="dr_li")] == []
    with pytest.raises(Invalid):
        clinic.followup.cases("later")


def test_recorded_by_hand_on_the_case_and_on_the_report_and_audited(clinic: Clinic) -> None:
    dr = clinic.doctor()
    exam = clinic.exam(author="dr_wang")
    clinic.followup.mark(exam.id, dr, due_date=clock.today())
    case = clinic.followup.record(
        exam.id,
        dr,
        clinical_diagnosis="右肺上叶腺癌",
        treatment="胸腔镜右肺上叶切除",
        pathology_result="浸润性腺癌，腺泡为主型",
        clinical_outcome="术后恢复良好",
        agreement="agree",
    )
    assert (case.clinical_diagnosis, case.treatment) == ("右肺上叶腺癌", "胸腔镜右肺上叶切除")
    # The report shows the pathology result, outcome and agreement (one place, not two).
    report = clinic.reporting.report_for_exam(exam.id)
    assert report is not None
    assert report.pathology_result == "浸润性腺癌，腺泡为主型"
    assert report.clinical_outcome == "术后恢复良好"
    assert (report.pathology_agreement, report.agreement_by) == ("agree", "dr_wang")
    assert case.agreement == "agree" and case.pathology_result == report.pathology_result
    # A part left out is unchanged.
    clinic.followup.record(exam.id, dr, treatment="术后化疗")
    kept = clinic.followup.case(exam.id)
    assert kept.clinical_diagnosis == "右肺上叶腺癌" and kept.treatment == "术后化疗"
    assert kept.agreement == "agree"
    actions = [
        e.action for e in auth.query_audit(clinic.engine, target=f"exam:{exam.accession_number}")[1]
    ]
    assert sorted(actions) == ["followup.mark", "followup.record", "followup.record"]
    with pytest.raises(Invalid):
        clinic.followup.record(exam.id, dr, agreement="maybe")


def test_report_fields_need_a_report_and_a_case_needs_a_mark(clinic: Clinic) -> None:
    dr = clinic.doctor()
    unreported = clinic.exam()
    clinic.followup.mark(unreported.id, dr, due_date=None)
    clinic.followup.record(unreported.id, dr, clinical_diagnosis="肺炎")  # on the case: fine
    with pytest.raises(Conflict) as refused:
        clinic.followup.record(unreported.id, dr, pathology_result="炎性假瘤")
    assert refused.value.code == "followup.no_report"
    with pytest.raises(NotFound):
        clinic.followup.record(clinic.exam().id, dr, treatment="x")
    with pytest.raises(NotFound):
        clinic.followup.mark(999999, dr, due_date=None)


def _result(**values: object) -> PathologyIn:
    return PathologyIn(**{"text": "病理诊断：浸润性腺癌", "sender": "PIS", **values})  # type: ignore[arg-type]


def test_pathology_results_are_matched_or_kept_unmatched(clinic: Clinic) -> None:
    by_accession = clinic.exam(author="dr_wang")
    by_order = clinic.exam(author="dr_wang")
    by_patient = clinic.exam(patient="PAT-9")
    clinic.followup.mark(by_patient.id, clinic.doctor(), due_date=None)

    first = clinic.followup.receive_pathology(
        _result(
            numbers=("PATH-001", by_accession.accession_number), patient_id=by_accession.patient_id
        )
    )
    assert first.exam_id == by_accession.id and first.matched_by == "hl7:PIS"
    # No doctor marked it: the result opens its case; the report shows the result.
    case = clinic.followup.case(by_accession.id)
    assert case.marked_by == "hl7:PIS" and [r.id for r in case.results] == [first.id]
    assert case.pathology_result == "病理诊断：浸润性腺癌"

    second = clinic.followup.receive_pathology(
        _result(filler_number=by_order.filler_order_number, numbers=("nothing",))
    )
    assert second.exam_id == by_order.id
    third = clinic.followup.receive_pathology(_result(patient_id="PAT-9"))
    assert third.exam_id == by_patient.id

    # A known accession number of another patient is no match; nor is an unknown number.
    wrong_patient = clinic.followup.receive_pathology(
        _result(numbers=(by_accession.accession_number,), patient_id="SOMEONE-ELSE")
    )
    unknown = clinic.followup.receive_pathology(_result(numbers=("NOPE",), text="慢性炎症"))
    assert wrong_patient.exam_id is None and unknown.exam_id is None
    assert [r.id for r in clinic.followup.unmatched()] == [unknown.id, wrong_patient.id]
    assert clinic.followup.counts()["unmatched"] == 2

    assigned = clinic.followup.assign(unknown.id, by_order.id, clinic.doctor("dr_li"))
    assert assigned.exam_id == by_order.id and assigned.matched_by == "dr_li"
    assert [r.id for r in clinic.followup.unmatched()] == [wrong_patient.id]
    report = clinic.reporting.report_for_exam(by_order.id)
    assert report is not None and report.pathology_result == "慢性炎症"  # the newest shows
    with pytest.raises(NotFound):
        clinic.followup.assign(424242, by_order.id, clinic.doctor())
