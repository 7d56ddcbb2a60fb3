"""Image grades with reasons, sending an exam graded 差 back for a retake and the report
waiting for it, and the report's change size: known answers on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core_server.auth.tables import audit_events
from core_server.quality.models import Conflict, Invalid, NotFound
from core_server.quality.report_quality import change_size, report_text
from core_server.reporting import Conflict as ReportConflict
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.core_server.quality.conftest import ATTENDING, QC, RESIDENT, TECH, Dept


def _audit(dept: Dept, action: str) -> list[str]:
    with dept.engine.connect() as conn:
        rows = conn.execute(select(audit_events).where(audit_events.c.action == action))
        return [f"{r.username} {r.target} {r.address}" for r in rows]


def test_the_reasons_list_is_seeded_and_an_administrator_edits_it(dept: Dept) -> None:
    reasons = dept.quality.reasons()
    assert [r.name_zh for r in reasons[:5]] == [
        "体位不正",
        "运动伪影",
        "曝光不当",
        "扫描范围不全",
        "金属伪影",
    ]
    assert len(reasons) == 10 and all(r.active for r in reasons)
    added = dept.quality.add_reason("gating", "心电门控失败", "ECG gating failed", 5, by=QC)
    assert dept.quality.reasons()[0] == added  # position 5 sorts first
    with pytest.raises(Conflict):
        dept.quality.add_reason("gating", "重复", by=QC)
    dept.quality.update_reason("metal", {"active": False, "name_zh": "金属异物伪影"}, by=QC)
    active = [r.code for r in dept.quality.reasons(active_only=True)]
    assert "metal" not in active and len(active) == 10
    with pytest.raises(NotFound):
        dept.quality.update_reason("nope", {"active": False}, by=QC)
    assert _audit(dept, "quality.reason.update") == ["qc.doctor metal 10.0.0.9"]


def test_a_grade_with_reasons_is_the_exams_grade_and_its_history_kept(dept: Dept) -> None:
    exam = dept.exam()
    with pytest.raises(Invalid) as refused:
        dept.quality.grade_images(exam, "poor", [], by=QC)
    assert refused.value.code == "quality.grade.reason_needed"
    with pytest.raises(Invalid) as refused:
        dept.quality.grade_images(exam, "fair", ["nope"], by=QC)
    assert refused.value.code == "quality.reason.unknown"
    with pytest.raises(Invalid):
        dept.quality.grade_images(exam, "bad", [], by=QC)
    dept.quality.grade_images(exam, "good", [], by=TECH)  # 良 needs no reason
    given = dept.quality.grade_images(
        exam, "poor", ["motion", "positioning", "motion"], "患者躁动", by=QC
    )
    assert (given.grade, given.reasons, given.graded_by) == (
        "poor",
        ["motion", "positioning"],
        "qc.doctor",
    )
    # The report's column is the current grade (the editor and technician page read it).
    report = dept.reporting.report_for_exam(exam)
    assert report is not None and (report.image_quality, report.image_quality_by) == (
        "poor",
        "qc.doctor",
    )
    assert [(g.grade, g.role) for g in dept.quality.grades(exam)] == [
        ("poor", "reviewing_doctor"),
        ("good", "technician"),
    ]
    assert _audit(dept, "quality.image_grade") == [
        f"tech1 exam:{exam} 10.0.0.8",
        f"qc.doctor exam:{exam} 10.0.0.9",
    ]


def test_an_exam_not_yet_performed_is_not_graded(dept: Dept) -> None:
    exam = dept.exam()
    dept.ris.change_status(exam, "reported", username="x")  # still gradable once reported
    dept.quality.grade_images(exam, "excellent", [], by=QC)
    dept.ris.register_patient(PatientIn("N1", "李四"), username="reg")
    order = OrderIn("N1", (ProcedureRequest("CT-CHEST"),))
    booked = dept.ris.place_order("N1", "", order, username="h")
    with pytest.raises(ReportConflict):
        dept.quality.grade_images(booked.exams[0].id, "good", [], by=QC)


def test_a_poor_exam_sent_back_holds_its_report_until_the_retake_is_done(dept: Dept) -> None:
    exam = dept.exam()
    report = dept.write(exam, RESIDENT, "右肺上叶结节。", "考虑炎性。")
    dept.quality.grade_images(exam, "fair", ["noise"], by=QC)
    with pytest.raises(Conflict) as refused:
        dept.quality.send_back(exam, by=QC)
    assert refused.value.code == "quality.retake.not_poor"
    dept.quality.grade_images(exam, "poor", ["motion"], "重扫", by=QC)
    sent = dept.quality.send_back(exam, "repeat", by=QC)
    assert (sent.reasons, sent.waiting, sent.kind) == (["motion"], True, "repeat")
    retake = dept.ris.exam(sent.retake_exam_id)
    assert (retake.retake_of, retake.retake_kind, retake.status) == (exam, "repeat", "arrived")
    assert retake.accession_number == sent.retake_accession
    with pytest.raises(Conflict) as refused:
        dept.quality.send_back(exam, by=QC)
    assert refused.value.code == "quality.retake.already_waiting"

    # Reporting waits: the worklist says so and the report cannot go forward.
    rows = {r.exam_id: r for r in dept.reporting.worklist(RESIDENT).rows}
    assert rows[exam].waiting_for_retake == sent.retake_accession
    with pytest.raises(ReportConflict) as held:
        dept.reporting.submit(report, RESIDENT)
    assert held.value.code == "reporting.report.waiting_for_retake"
    assert held.value.values["accession"] == sent.retake_accession
    assert dept.reporting.report(report).status == "draft"

    for step in ("in_progress", "completed"):
        dept.ris.change_status(retake.id, step, username="tech2")
    assert dept.quality.waiting_for_retake([exam]) == {}
    done = dept.quality.retakes(exam)[0]
    assert (done.waiting, done.done_status) == (False, "completed")
    rows = {r.exam_id: r for r in dept.reporting.worklist(RESIDENT).rows}
    assert rows[exam].waiting_for_retake == ""
    assert dept.reporting.submit(report, RESIDENT).status == "submitted"
    assert _audit(dept, "quality.retake") == [f"qc.doctor exam:{exam} 10.0.0.9"]


def test_a_cancelled_retake_releases_the_report(dept: Dept) -> None:
    exam = dept.exam()
    report = dept.write(exam, RESIDENT, "所见", "结论")
    dept.quality.grade_images(exam, "poor", ["exposure"], by=QC)
    sent = dept.quality.send_back(exam, "supplementary", ["coverage"], "补扫下腹", by=QC)
    assert sent.reasons == ["coverage"] and sent.note == "补扫下腹"
    dept.ris.change_status(sent.retake_exam_id, "cancelled", username="desk")
    assert dept.quality.waiting_for_retake([exam]) == {}
    assert dept.reporting.submit(report, RESIDENT).status == "submitted"
    assert dept.reporting.sign(report, ATTENDING).status == "signed"


@pytest.mark.parametrize(
    ("old", "new", "size"),
    [
        ("abc", "abc", 0),
        ("abc", "abd", 1),  # one replaced
        ("左肺结节", "右肺结节影", 2),  # one replaced, one inserted
        ("考虑炎性病变，建议复查。", "考虑炎性病变。", 5),  # five deleted
        ("", "新增", 2),
    ],
)
def test_the_change_size_counts_characters_changed(old: str, new: str, size: int) -> None:
    assert change_size(old, new) == size


def test_the_report_text_is_read_without_markup() -> None:
    assert report_text("<p>右肺&amp;结节</p>", "<p>炎性</p>") == "右肺&结节\n炎性"
