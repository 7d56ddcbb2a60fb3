"""In headless Chromium: the registration desk registers 张三 with an ID card number and a chest
CT and gets the barcode label; the technician's page checks the patient in, starts and
finishes the exam; unmatched images are linked on the reconciliation page. Nothing may leave
the appliance. Screenshots go to ``test-artifacts/test_browser_ris/<test>/``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from core_server import auth, clock
from core_server.archive import Origin
from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct
from tests.e2e.browser import (
    artifacts_for,
    assert_image_drawn,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")

PASSWORD = "password-123"
CARD = "11010519491231002X"


def _staff(core: RunningCore, username: str, role: str) -> None:
    engine = core.core.engine
    auth.create_user(engine, username, PASSWORD, role)


def test_register_and_perform_an_exam(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
) -> None:
    artifacts: Path = artifacts_for(request)
    _staff(core, "desk", "registrar")
    _staff(core, "tech", "technician")
    page, guard = open_page(browser, core.base_url, "/ris/register", "desk", PASSWORD)
    expect(page.locator("h1")).to_have_text("患者登记")
    page.fill("#patient_id", "MRN001")
    page.fill("#name", "张三")
    page.fill("#id_card_number", CARD)
    expect(page.locator("#birth_date")).to_have_value("1949-12-31")  # from the card
    # Choosing the modality reloads its exam items and rooms: tick in the new list only (a
    # box ticked in the list being replaced is lost with it).
    expect(page.locator("#procedures input")).not_to_have_count(0)
    page.eval_on_selector_all("#procedures > *", "nodes => nodes.forEach((n) => n.dataset.old = 1)")
    page.select_option("#modality", "CT")
    expect(page.locator("#procedures > :not([data-old])")).not_to_have_count(0)
    page.check("input[name=procedure][value=CT-CHEST]")
    page.select_option("#room", "CT1")
    page.check("#emergency")
    page.click("#submit")
    expect(page.locator("#done")).to_have_text("已登记 1 项检查")
    # A second exam for tomorrow's 09:00 slot of the same room.
    page.check("input[name=procedure][value=CT-HEAD]")
    page.uncheck("input[name=procedure][value=CT-CHEST]")
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    page.fill("#slot_day", tomorrow)
    page.dispatch_event("#slot_day", "change")
    page.wait_for_selector(f"#slot option[value='{tomorrow}T09:00:00']", state="attached")
    page.select_option("#slot", f"{tomorrow}T09:00:00")
    page.click("#submit")
    expect(page.locator("#exams tbody tr")).to_contain_text("头颅CT平扫")
    expect(page.locator(f"#slot option[value='{tomorrow}T09:00:00']")).to_have_count(0)
    booked = core.core.ris.exams(patient_id="MRN001", day=clock.today() + timedelta(days=1))
    assert [(e.procedure_code, clock.local(e.scheduled_at).hour, e.status) for e in booked] == [
        ("CT-HEAD", 9, "scheduled")
    ]
    label = page.locator("#exams img.barcode")
    expect(label).to_have_count(1)
    assert_image_drawn(label)
    page.screenshot(path=str(artifacts / "registered.png"), full_page=True)
    # The printable label: name, pinyin, exam item and the barcode.
    with page.context.expect_page() as opened:
        page.locator("#exams button", has_text="打印条码").first.click()
    printable = opened.value
    guard.watch(printable)
    expect(printable.locator("#label")).to_contain_text("张三")
    expect(printable.locator("#label")).to_contain_text("ZHANG SAN")
    expect(printable.locator("#label")).to_contain_text("头颅CT平扫")
    assert_image_drawn(printable.locator(".label-barcode"))
    printable.screenshot(path=str(artifacts / "label.png"))
    (exam,) = core.core.ris.exams(patient_id="MRN001", day=clock.today())
    assert (exam.patient_name_pinyin, exam.room, exam.emergency) == ("ZHANG^SAN", "CT1", True)
    assert exam.status == "arrived"  # registered at the desk: the patient is here
    assert core.core.ris.patient("MRN001").birth_date.isoformat() == "1949-12-31"

    image = make_ct(patient_id="MRN001", accession=exam.accession_number)
    core.core.archive.store_instance(encode(image), Origin("dimse", "CT01"))
    tech, tech_guard = open_page(
        browser, core.base_url, "/ris/technician?room=CT1", "tech", PASSWORD
    )
    row = tech.locator(f"tr.exam[data-accession='{exam.accession_number}']")
    expect(row).to_contain_text("张三")
    # The images arrived: their count opens them in the viewer.
    expect(row.locator("td.images a")).to_have_attribute(
        "href", f"/viewer?StudyInstanceUIDs={image.StudyInstanceUID}"
    )
    row.locator("[data-check=identity]").check()
    expect(row.locator("[data-check=identity]")).to_be_checked()
    for action, shown in (
        ("in_progress", "检查中"),
        ("completed", "已检查"),
    ):
        tech.locator(
            f"tr.exam[data-accession='{exam.accession_number}'] [data-action={action}]"
        ).click()
        expect(tech.locator(f"tr.exam[data-accession='{exam.accession_number}']")).to_contain_text(
            shown
        )
    # The accession number opens the exam's history.
    tech.locator(f"tr.exam[data-accession='{exam.accession_number}'] button.details").click()
    history = tech.locator("tr.exam-details")
    expect(history).to_contain_text("检查中 · tech")
    expect(history).to_contain_text("未上传申请单")
    # Image quality is graded on the same page, and shown again when the list is redrawn.
    quality = tech.locator(
        f"tr.exam[data-accession='{exam.accession_number}'] select.image-quality"
    )
    quality.select_option("good")
    expect(tech.locator("#status")).to_contain_text("✓")
    assert core.core.reporting.report_for_exam(exam.id).image_quality == "good"
    tech.locator("#refresh").click()
    expect(quality).to_have_value("good")
    tech.screenshot(path=str(artifacts / "technician.png"), full_page=True)
    done = core.core.ris.exam(exam.id)
    assert (done.status, done.status_by, done.identity_confirmed) == ("completed", "tech", True)
    for g in (guard, tech_guard):
        g.assert_clean()


def test_link_unmatched_images(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
) -> None:
    from core_server.ris import OrderIn, PatientIn, ProcedureRequest

    artifacts = artifacts_for(request)
    _staff(core, "tech", "technician")
    ris = core.core.ris
    ris.register_patient(PatientIn("P1", "李四"), username="reg")
    exam = ris.place_order(
        "P1", "", OrderIn("O1", (ProcedureRequest("DR-CHEST-PA"),)), username="reg"
    ).exams[0]
    stray = make_ct(patient_id="TMP9", patient_name="EMERGENCY", accession="", modality="DX")
    core.core.archive.store_instance(encode(stray), Origin("dimse", "DR01"))
    page, guard = open_page(browser, core.base_url, "/ris/reconciliation", "tech", PASSWORD)
    row = page.locator("tr.study")
    expect(row).to_contain_text("TMP9")
    row.locator("input").fill(exam.accession_number)
    row.locator("button").click()
    expect(page.locator("#status")).to_contain_text(exam.accession_number)
    expect(page.locator("tr.study")).to_have_count(0)
    page.screenshot(path=str(artifacts / "linked.png"), full_page=True)
    (study,) = core.core.archive.find("STUDY", {"StudyInstanceUID": str(stray.StudyInstanceUID)})
    assert (study["PatientID"], study["AccessionNumber"]) == ("P1", exam.accession_number)
    guard.assert_clean()
