"""The clinicians' read-only report view (HIS links): by accession number or patient ID,
signed reports only, every signed version listed and readable, login required, audited."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from core_server import auth, clock
from core_server.reporting import Content
from tests.conftest import RunningCore
from tests.core_server.reporting.output_data import CHIEF, PASSWORD, api, signed_report


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path_factory.mktemp("view") / "data")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_a_clinician_reads_the_report_of_an_exam_and_its_versions(core: RunningCore) -> None:
    signed = signed_report(core, "P-VIEW-1", name="孙七")
    accession = signed.exam.accession_number
    reporting = core.core.reporting
    first_version = signed.report.signed_version
    reporting.amend(signed.report.id, CHIEF, "补充纵隔所见")
    reporting.save(
        signed.report.id,
        CHIEF,
        Content(findings="<p>右肺上叶见一实性结节，大小约8mm。纵隔内见小淋巴结。</p>"),
    )
    amended = reporting.sign(signed.report.id, CHIEF)

    with api(core, "liu.clinician") as clinician:
        page = clinician.get("/reports/view", params={"AccessionNumber": accession})
        assert page.status_code == 200
        html = page.text
        assert "孙七" in html and "纵隔内见小淋巴结" in html and "陈主任" in html
        assert "更正报告" in html  # the newest signed version is an amendment
        assert f"/reports/view/{signed.report.id}/versions/{first_version}" in html
        assert f"/reports/view/{signed.report.id}/versions/{amended.signed_version}" in html
        assert "补充纵隔所见" in html  # why it was amended, in the version index
        assert f"/viewer?StudyInstanceUIDs={signed.exam.study_instance_uid}" in html

        old = clinician.get(f"/reports/view/{signed.report.id}/versions/{first_version}")
        assert old.status_code == 200
        assert "纵隔内未见肿大淋巴结" in old.text and "纵隔内见小淋巴结" not in old.text

        by_patient = clinician.get("/reports/view", params={"PatientID": "P-VIEW-1"})
        assert accession in by_patient.text

        draft = clinician.get(f"/reports/view/{signed.report.id}/versions/1")
        assert draft.status_code == 404  # version 1 is a saved draft, never shown outside

    _total, events = auth.query_audit(
        core.core.engine, username="liu.clinician", action="report.viewed"
    )
    assert f"accession:{accession}" in {e.target for e in events}
    assert f"report:{signed.report.id}" in {e.target for e in events}


def test_unsigned_reports_are_not_shown_and_login_is_required(core: RunningCore) -> None:
    signed = signed_report(core, "P-VIEW-2", name="周八")
    reporting = core.core.reporting
    reporting.amend(signed.report.id, CHIEF, "重写")  # back to a draft: the old signature stands
    draft_exam = signed.exam.accession_number

    with api(core, "liu.clinician") as clinician:
        html = clinician.get("/reports/view", params={"AccessionNumber": draft_exam}).text
        assert "周八" in html  # the signed version while the amendment is written
        missing = clinician.get("/reports/view", params={"AccessionNumber": "NO-SUCH"})
        assert missing.status_code == 200 and 'id="no-reports"' in missing.text

    anonymous = httpx.get(
        core.base_url + "/reports/view",
        params={"AccessionNumber": draft_exam},
        follow_redirects=False,
    )
    assert anonymous.status_code in (302, 303, 307)
    assert anonymous.headers["location"].startswith("/login?next=")
    with api(core, "wang.registrar") as registrar:
        assert registrar.get(f"/api/reporting/reports/{signed.report.id}/pdf").status_code == 200
    technician = "zhang.tech"
    auth.create_user(core.core.engine, technician, PASSWORD, "technician", "张技师")
    with core.api(technician, PASSWORD) as http:
        assert http.get("/reports/view", params={"AccessionNumber": draft_exam}).status_code == 403


def test_signed_versions_are_numbered_by_signature(core: RunningCore) -> None:
    """The first signature is 第 1 版 (its internal version number is 2: a saved draft came
    first), the amendment's 第 2 版; the HL7-shaped name shows as 王建国, times in hospital
    time."""
    signed = signed_report(core, "P-VIEW-3", name="王^建国")
    reporting = core.core.reporting
    reporting.amend(signed.report.id, CHIEF, "补充")
    amended = reporting.sign(signed.report.id, CHIEF)
    assert (signed.report.signed_version, amended.signed_version) == (2, 4)
    with api(core, "liu.clinician") as clinician:
        html = clinician.get(
            "/reports/view", params={"AccessionNumber": signed.exam.accession_number}
        ).text
    links = re.findall(r'/versions/(\d+)">([^<]+)</a>', html)
    assert links == [("2", "第 1 版"), ("4", "第 2 版")]
    assert "王建国" in html and "王^建国" not in html
    signed_at = clock.shown(reporting.versions(signed.report.id)[-1].created_at)
    assert signed_at in html
