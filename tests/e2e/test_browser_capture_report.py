"""In headless Chromium, captures reaching the report editor (issue 13): an image C-STOREd
(dcmtk storescu, as the capture station stores) while the editor is open appears in its image
strip without a reload; the doctor ticks two, captions them, puts the second first; the signed
report's PDF shows both captions in that order. Nothing may leave the appliance."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from core_server import auth
from core_server.archive import Origin
from core_server.reporting import Doctor
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import dcmtk, peer
from tests.dicom_data import encode, make_ct
from tests.e2e.browser import artifacts_for, browser, open_page

pytestmark = pytest.mark.xdist_group("browser")
__all__ = ["browser"]

PASSWORD = "password-123"
DOCTOR = Doctor("wang", "reviewing_doctor")
SERIES = "1.2.826.0.1.3680043.8.498.77"


def _exam(core: RunningCore) -> int:
    ris = core.core.ris
    ris.register_patient(
        PatientIn("P-ES-1", "王^建国", sex="M", birth_date=date(1970, 5, 1)), username="reg"
    )
    order = OrderIn("O-ES-1", (ProcedureRequest("CT-CHEST"),))
    exam = ris.place_order("P-ES-1", "", order, username="reg").exams[0]
    for status in ("arrived", "in_progress", "completed"):
        ris.change_status(exam.id, status, username="tech")
    return int(exam.id)


def test_captures_arrive_then_tick_caption_reorder_print(
    browser: Browser, core: RunningCore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    artifacts = artifacts_for(request)
    auth.create_user(core.core.engine, "wang", PASSWORD, "reviewing_doctor", "王医生")
    exam_id = _exam(core)
    exam = core.core.ris.exam(exam_id)
    core.core.reporting.set_levels(exam.department, 1)

    def image(number: int) -> bytes:
        return encode(
            make_ct(
                patient_id="P-ES-1",
                study_uid=exam.study_instance_uid,
                series_uid=SERIES,
                sop_uid=f"{SERIES}.{number}",
                accession=exam.accession_number,
                instance_number=number,
                size=64,
            )
        )

    core.core.archive.store_instance(image(1), Origin("test"))
    core.core.reporting.start(exam_id, DOCTOR)
    page, guard = open_page(browser, core.base_url, "/reporting", "wang", PASSWORD)
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.locator(f"li.rp-item[data-accession='{exam.accession_number}']").click()
    expect(page.locator("#editor-body")).to_be_visible()
    page.locator("[data-tab='images']").click()
    thumbs = page.locator("#thumbs .rp-thumb")
    expect(thumbs).to_have_count(1)
    link = page.locator("#pathology-link")
    expect(link).to_have_attribute("href", f"/capture/exams/{exam_id}/pathology")

    # Two captures stored over DICOM while the editor is open: pushed, no reload.
    core.register("WEIJING1", port=11112)
    for number in (2, 3):
        (tmp_path / f"{number}.dcm").write_bytes(image(number))
    dcmtk("storescu", "-aet", "WEIJING1", *peer(core), tmp_path / "2.dcm", tmp_path / "3.dcm")
    expect(thumbs).to_have_count(3)
    page.screenshot(path=str(artifacts / "arrived.png"))

    first, third = f"{SERIES}.1", f"{SERIES}.3"
    page.locator(f"#thumbs .rp-thumb[data-sop='{first}']").click()
    keys = page.locator("#key-images li.rp-key")
    expect(keys).to_have_count(1)
    page.locator(f"#thumbs .rp-thumb[data-sop='{third}']").click()
    expect(keys).to_have_count(2)
    keys.nth(0).locator("input").fill("胃窦小弯侧溃疡")
    keys.nth(0).locator("input").press("Enter")
    keys.nth(1).locator("input").fill("十二指肠球部")
    keys.nth(1).locator("input").press("Enter")
    expect(keys.nth(1).locator("input")).to_have_value("十二指肠球部")
    keys.nth(1).get_by_role("button", name="↑").click()
    expect(keys.nth(0)).to_have_attribute("data-sop", third)
    expect(keys.nth(0).locator("input")).to_have_value("十二指肠球部")
    page.screenshot(path=str(artifacts / "ordered.png"))

    reporting = core.core.reporting
    report = reporting.report_for_exam(exam_id)
    assert report is not None
    assert [(k["sop_instance_uid"], k["note"]) for k in report.key_images] == [
        (third, "十二指肠球部"),
        (first, "胃窦小弯侧溃疡"),
    ]
    from core_server.reporting import Content

    reporting.save(report.id, DOCTOR, Content(findings="胃窦小弯侧见溃疡。", impression="胃溃疡"))
    reporting.sign(report.id, DOCTOR)
    with core.api() as admin:
        pdf = admin.get(f"/api/reporting/reports/{report.id}/pdf").content
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert 0 <= text.index("十二指肠球部") < text.index("胃窦小弯侧溃疡")
    assert guard.outside == [] and guard.console_errors == [], guard.console_errors
