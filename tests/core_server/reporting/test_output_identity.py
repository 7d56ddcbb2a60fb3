"""The printed and archived report as a Chinese hospital reads it (issue 18, items 1, 3 and
25): the patient's name without a ``^`` whatever shape it came in (the SR, PDF and KOS carry
the DICOM Person Name), the body part by its Chinese name, the requesting department and the
clinical diagnosis from the RIS order, a footer in Chinese only, and every time in the
hospital's zone while the machine runs in UTC."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from core_server import db
from core_server.reporting import Content
from core_server.reporting.output import ReportOutput, dicom_objects, rendering, source
from core_server.reporting.tables import reporting_reports, reporting_versions
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.core_server.reporting.conftest import RESIDENT, Setup
from tests.dicom_data import make_ct

NAMES = ["王^建国", "WANG^JIANGUO=王^建国", "王建国"]
SIGNED_AT = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)  # 2026-03-02 04:30 in Shanghai


def _signed(setup: Setup, name: str) -> source.SignedReport:
    """A chest CT ordered by 呼吸内科 with its clinical diagnosis, signed at ``SIGNED_AT``."""
    ris, reporting = setup.ris, setup.reporting
    ris.register_patient(PatientIn("P-PDF", name, sex="M"), username="reg")
    order = OrderIn(
        "ORD-PDF",
        (ProcedureRequest("CT-CHEST"),),
        referring_department="呼吸内科",
        clinical_info="咳嗽两周，发热，社区获得性肺炎？",
        emergency=True,
    )
    exam = ris.place_order("P-PDF", "", order, username="reg").exams[0]
    for status in ("arrived", "in_progress", "completed"):
        ris.change_status(exam.id, status, username="tech")
    report = reporting.start(exam.id, RESIDENT)
    text = Content("<p>右肺下叶见斑片影。</p>", "<p>右肺下叶肺炎。</p>")
    signed = reporting.sign(report.id, RESIDENT, text)
    with db.write(setup.engine) as conn:
        conn.execute(
            update(reporting_versions)
            .where(reporting_versions.c.report_id == report.id)
            .values(created_at=SIGNED_AT)
        )
        conn.execute(
            update(reporting_reports)
            .where(reporting_reports.c.id == report.id)
            .values(signed_at=SIGNED_AT)
        )
    return source.load(setup.engine, ris, signed.id)


def _html(signed: source.SignedReport, copy_note: str = "") -> str:
    context = rendering.PrintContext(
        hospital="测试医院",
        url="https://pacs.test/reports/view?AccessionNumber=1",
        author_name="李医生",
        signer_name="李医生",
        copy_note=copy_note,
    )
    return rendering.render_html(signed, context, [])


@pytest.mark.parametrize("name", NAMES)
def test_the_printed_report_names_the_patient_as_read(sqlite_setup: Setup, name: str) -> None:
    html = _html(_signed(sqlite_setup, name))
    assert "<td>王建国</td>" in html and "^" not in html


def test_the_printed_report_in_chinese_and_hospital_time(sqlite_setup: Setup) -> None:
    signed = _signed(sqlite_setup, "王^建国")
    html = _html(signed)
    assert '部位</td><td colspan="3">胸部</td>' in html and "CHEST" not in html
    assert "申请科室</td><td>呼吸内科</td>" in html
    assert "咳嗽两周，发热，社区获得性肺炎？" in html
    assert "签发时间：2026-03-02 04:30" in html  # not 2026-03-01 20:30, the machine's UTC


def test_the_pdf_reads_right(sqlite_setup: Setup, tmp_path: Path) -> None:
    """The PDF itself, as pdftotext reads it, with the electronic copy's footer; one page
    made a PNG (pdftoppm) for looking at it."""
    output = ReportOutput(
        sqlite_setup.engine, sqlite_setup.archive, sqlite_setup.ris, hospital="测试医院"
    )
    signed = _signed(sqlite_setup, "WANG^JIANGUO=王^建国")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(output.electronic_copy(signed.report.id))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    for wanted in ("王建国", "胸部", "呼吸内科", "咳嗽两周", "2026-03-02 04:30", "电子版"):
        assert wanted in text, wanted
    assert "^" not in text and "CHEST" not in text
    footer = [line for line in text.splitlines() if "电子版" in line or "第 1 页" in line]
    assert footer and not any(word in " ".join(footer).lower() for word in ("copy", "page"))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    assert (tmp_path / "page-1.png").stat().st_size > 1000


def test_the_sr_and_pdf_objects_carry_the_dicom_name_and_hospital_dates(
    sqlite_setup: Setup,
) -> None:
    signed = _signed(sqlite_setup, "王^建国")
    header = dicom_objects.study_header(signed, [])
    assert str(header.PatientName) == "WANG^JIANGUO=王^建国"
    sr = dicom_objects.build_sr(
        signed,
        header,
        [],
        sop_instance_uid="1.2.826.0.1.3680043.8.498.1",
        institution="测试医院",
        signer_name="李医生",
    )
    assert str(sr.PatientName) == "WANG^JIANGUO=王^建国"
    assert str(sr.VerifyingObserverSequence[0].VerifyingObserverName) == "李医生^"
    assert (str(sr.ContentDate), str(sr.ContentTime)) == ("20260302", "043000")
    assert sr.VerifyingObserverSequence[0].VerificationDateTime == "20260302043000+0800"
    encapsulated = dicom_objects.build_pdf(
        signed,
        header,
        b"%PDF-1.4",
        sop_instance_uid="1.2.826.0.1.3680043.8.498.2",
        institution="测试医院",
        title="CT 报告",
    )
    assert str(encapsulated.PatientName) == "WANG^JIANGUO=王^建国"
    assert encapsulated.AcquisitionDateTime == "20260302043000+0800"
    assert (encapsulated.ContentDate, encapsulated.ContentTime) == ("20260302", "043000")
    image = make_ct(patient_id="P-PDF", patient_name="WANG^JIANGUO=王^建国")
    kos = dicom_objects.build_kos(
        signed, header, [image], sop_instance_uid="1.2.826.0.1.3680043.8.498.3", institution=""
    )
    assert str(kos.PatientName) == "WANG^JIANGUO=王^建国"
    assert (str(kos.ContentDate), str(kos.ContentTime)) == ("20260302", "043000")
    exam_at = signed.exam.scheduled_at or signed.exam.created_at if signed.exam else None
    assert exam_at is not None
    assert header.StudyDate == exam_at.astimezone(rendering.clock.zone()).strftime("%Y%m%d")
