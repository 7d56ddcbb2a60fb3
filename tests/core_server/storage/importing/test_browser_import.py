"""The import page in Chromium: a registrar reads a disc, sees the outside patient by name,
picks our patient (found by name and birth date) and the exam, stores; and uploads a zip."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

from playwright.sync_api import Browser, expect
from pydicom.uid import generate_uid

from core_server import auth
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore
from tests.dicom_data import make_ct, write
from tests.e2e.browser import browser, open_page  # noqa: F401  (the browser fixture)

PASSWORD = "Registrar-password-1"


def test_registrar_imports_a_disc(core: RunningCore, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    ris = core.core.ris
    ris.register_patient(
        PatientIn("OUR-7", "李^娜", birth_date=date(1990, 5, 6), sex="F"), username="reg"
    )
    exam = ris.place_order(
        "OUR-7", "", OrderIn("O-7", (ProcedureRequest("CT-CHEST"),)), username="reg"
    ).exams[0]
    auth.create_user(core.core.engine, "liu.registrar", PASSWORD, "registrar", "刘登记")
    cd = tmp_path / "media" / "cdrom"
    study = generate_uid()
    for n in (1, 2):
        ct = make_ct(
            patient_id="OUT-55",
            patient_name="Li^Na=李^娜",
            charset="ISO_IR 192",
            study_uid=study,
            instance_number=n,
            PatientBirthDate="19900506",
            PatientSex="F",
        )
        write(ct, cd / "DICOM")
    core.app.state.ctx.lifecycle.importing.roots.append(tmp_path / "media")

    page, guard = open_page(browser, core.base_url, "/storage/import", "liu.registrar", PASSWORD)
    page.fill("#source", str(cd))
    page.click("#read")
    row = page.locator("#patients tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("strong")).to_have_text("李娜")
    expect(row).to_contain_text("OUT-55")
    row.locator("select[name=decision]").select_option("match")
    expect(row.locator("select[name=patient] option")).to_have_count(1)  # found by name+birth
    expect(row.locator("select[name=exam] option")).to_have_count(2)
    row.locator("select[name=exam]").select_option(str(exam.id))
    row.locator("button").click()
    expect(page.locator("#patients tbody tr")).to_contain_text("liu.registrar")
    page.click("#store")
    expect(page.locator("#session-status")).to_contain_text("完成", timeout=30000)
    assert len(core.core.archive.locate({"PatientID": "OUR-7"})) == 2
    assert study in ris.exam(exam.id).studies

    archive = tmp_path / "disc.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(cd.rglob("*.dcm")):
            z.write(path, f"DICOM/{path.name}")
    page.set_input_files("#files", str(archive))
    page.click("#upload")
    expect(page.locator("#session-status")).to_contain_text("已读取")
    expect(page.locator("#patients tbody tr")).to_have_count(1)
    expect(page.locator("#sessions tbody tr")).to_have_count(2)
    guard.assert_clean()
    assert guard.console_errors == []
