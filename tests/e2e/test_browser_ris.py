"""In headless Chromium: the registration desk registers 张三 with an ID card number and a chest
CT and gets the barcode label; the technician's page checks the patient in, starts and
finishes the exam; unmatched images are linked on the reconciliation page. Nothing may leave
the appliance. Screenshots go to ``test-artifacts/test_browser_ris/<test>/``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, expect

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
    expect(printable.locator(".label-room")).to_contain_text("CT一室")  # the room's name
    assert_image_drawn(printable.locator(".label-barcode"))
    printable.screenshot(path=str(artifacts / "label.png"))
    (exam,) = core.core.ris.exams(patient_id="MRN001", day=clock.today())
    assert (exam.patient_name_pinyin, exam.room, exam.emergency) == ("ZHANG^SAN", "CT1", True)
    assert exam.status == "arrived"  # registered at the desk: the patient is here
    assert core.core.ris.patient("MRN001").birth_date.isoformat() == "1949-12-31"

    image = make_ct(patient_id="MRN001", accession=exam.accession_number)
    core.core.archive.store_instance(encode(image), Origin("dimse", "CT01"))
    # The desk sees the worklist too: no disc link while the exam is not yet performed.
    page.goto(core.base_url + "/ris/technician?room=CT1")
    page.wait_for_load_state("networkidle")
    expect(page.locator(f"tr.exam[data-accession='{exam.accession_number}']")).to_be_visible()
    expect(page.locator("a.burn-disc")).to_have_count(0)
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
    # "刻录光盘" only for those who may open the disc page (not a technician), and only for a
    # performed exam: the desk's link opens /discs with the exam's accession filled in.
    expect(tech.locator("a.burn-disc")).to_have_count(0)
    page.goto(core.base_url + "/ris/technician?room=CT1")
    page.wait_for_load_state("networkidle")
    burn = page.locator(f"tr.exam[data-accession='{exam.accession_number}'] a.burn-disc")
    expect(burn).to_have_text("刻录光盘")
    expect(burn).to_have_attribute("href", f"/discs?exam={exam.id}")
    burn.click()
    expect(page.locator("#queue-accession")).to_have_value(exam.accession_number)
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
    expect(row.locator("td.date")).to_have_text("2026-11-28")  # not the raw 20261128
    row.locator("input").fill(exam.accession_number)
    row.locator("button").click()
    expect(page.locator("#status")).to_contain_text(exam.accession_number)
    expect(page.locator("tr.study")).to_have_count(0)
    page.screenshot(path=str(artifacts / "linked.png"), full_page=True)
    (study,) = core.core.archive.find("STUDY", {"StudyInstanceUID": str(stray.StudyInstanceUID)})
    assert (study["PatientID"], study["AccessionNumber"]) == ("P1", exam.accession_number)
    guard.assert_clean()


def test_the_desk_with_a_patient_from_the_his(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
) -> None:
    """An HL7-registered 单^雪梅 is found by pinyin prefix and shown without ``^``; the browser
    checks a future birth date before sending; the pinyin of a typed name is shown and kept as
    corrected (a Uyghur name keeps its dot); a likely duplicate is asked about; 新患者 clears
    the last order's settings; a double click sends once; the technician's check-in of an exam
    booked for tomorrow asks first."""
    from core_server.ris import OrderIn, PatientIn, ProcedureRequest

    artifacts = artifacts_for(request)
    _staff(core, "desk", "registrar")
    _staff(core, "tech", "technician")
    ris = core.core.ris
    born = date(1980, 5, 4)
    ris.register_patient(PatientIn("H1", "单^雪梅", birth_date=born), username="hl7:HIS")
    page, guard = open_page(browser, core.base_url, "/ris/register", "desk", PASSWORD)
    posted: list[str] = []
    page.on(
        "request",
        lambda r: posted.append(r.url) if r.method == "POST" and "/api/ris/" in r.url else None,
    )
    page.fill("#find", "shanx")
    match = page.locator("#matches button")
    expect(match).to_have_text("单雪梅 · SHAN XUEMEI · H1 · 1980-05-04")
    match.click()
    expect(page.locator("#name")).to_have_value("单雪梅")
    expect(page.locator("#name_pinyin")).to_have_value("SHAN XUEMEI")

    # The browser refuses a birth date in the future before the server hears of it.
    page.fill("#birth_date", (clock.today() + timedelta(days=1)).isoformat())
    page.check("input[name=procedure][value=CT-CHEST]")
    page.click("#submit")
    expect(page.locator("#error")).to_have_text("出生日期不能晚于今天")
    assert posted == []

    # 新患者: the patient and the last order's settings go.
    page.fill("#placer_order_number", "X-1")
    page.check("#emergency")
    page.select_option("#room", "CT1")
    page.click("#new-patient")
    for field in ("#patient_id", "#name", "#name_pinyin", "#birth_date", "#placer_order_number"):
        expect(page.locator(field)).to_have_value("")
    expect(page.locator("#room")).to_have_value("")
    expect(page.locator("#emergency")).not_to_be_checked()
    expect(page.locator("input[name=procedure]:checked")).to_have_count(0)

    # A typed name gets its pinyin shown; the registrar's correction is kept, dot and all.
    page.fill("#patient_id", "U1")
    page.fill("#name", "买买提·艾力")
    expect(page.locator("#name_pinyin")).to_have_value("MAIMAITI AILI")
    page.fill("#name_pinyin", "MAIMAITI AILIJAN")
    page.fill("#name", "买买提·艾力 ")  # typing on does not overwrite the correction
    page.check("input[name=procedure][value=CT-CHEST]")
    page.dblclick("#submit")  # one registration however fast the second click comes
    expect(page.locator("#done")).to_have_text("已登记 1 项检查")
    assert [u for u in posted if u.endswith("/api/ris/orders")] == [
        core.base_url + "/api/ris/orders"
    ]
    uyghur = ris.patient("U1")
    assert (uyghur.display_name, uyghur.name_pinyin) == ("买买提·艾力", "MAIMAITI^AILIJAN")

    # Someone already registered: the page names them and asks before creating.
    page.click("#new-patient")
    page.fill("#patient_id", "N1")
    page.fill("#name", "单雪梅")
    page.fill("#birth_date", born.isoformat())
    page.check("input[name=procedure][value=CT-CHEST]")
    page.click("#submit")
    expect(page.locator("#duplicates")).to_be_visible()
    expect(page.locator("#duplicate-list")).to_contain_text("单雪梅 · SHAN XUEMEI · H1")
    expect(page.locator("#error")).to_be_hidden()
    page.screenshot(path=str(artifacts / "duplicate.png"), full_page=True)
    assert ris.find_patients(patient_id="N1") == []
    page.click("#register-anyway")
    expect(page.locator("#done")).to_have_text("已登记 1 项检查")
    expect(page.locator("#duplicates")).to_be_hidden()
    assert ris.patient("N1").display_name == "单雪梅"

    # The technician checks in tomorrow's exam only after saying yes.
    tomorrow = clock.from_local(datetime.combine(clock.today() + timedelta(days=1), time(8, 30)))
    booked = ris.place_order(
        "H1",
        "",
        OrderIn("O-T", (ProcedureRequest("DR-CHEST-PA", room="DR1", scheduled_at=tomorrow),)),
        username="hl7:HIS",
    ).exams[0]
    day = (clock.today() + timedelta(days=1)).isoformat()
    tech, tech_guard = open_page(
        browser, core.base_url, f"/ris/technician?room=DR1&day={day}", "tech", PASSWORD
    )
    row = tech.locator(f"tr.exam[data-accession='{booked.accession_number}']")
    expect(row).to_contain_text("单雪梅")
    expect(row).not_to_contain_text("^")
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    tech.on("dialog", answer)
    row.locator("[data-action=arrived]").dblclick()
    expect(row).to_contain_text("已到检")
    assert len(asked) == 1 and "今天" in asked[0]
    expect(tech.locator("#error")).to_be_hidden()
    history = [(h.new_status, h.username) for h in ris.history(booked.id)]
    assert history == [("scheduled", "hl7:HIS"), ("arrived", "tech")]
    assert "confirmed" in ris.history(booked.id)[-1].reason
    tech.screenshot(path=str(artifacts / "technician.png"), full_page=True)
    for g in (guard, tech_guard):
        g.assert_clean()
