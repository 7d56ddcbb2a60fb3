"""In headless Chromium: an admin opens the recycle bin from the admin menu, reads what was
deleted (the patient as 王建国, never a "^"; who, why, hospital times), restores one entry and
empties the bin after confirming. No request leaves the appliance and the scripts run under
the CSP without errors.

Screenshots are kept in ``test-artifacts/test_browser_recycle/<test>/``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from pydicom.uid import generate_uid

from core_server.archive import Origin
from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.dicom_data import encode, make_ct
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")


def _deleted_study(core: RunningCore, patient_id: str, reason: str) -> str:
    study = generate_uid()
    ds = make_ct(
        patient_id=patient_id,
        patient_name="WANG^JIANGUO=王^建国",
        charset="ISO_IR 192",
        study_uid=study,
    )
    core.core.archive.store_instance(encode(ds), Origin("dimse", "TEST"))
    with core.api() as admin:
        answer = admin.delete(f"/api/storage/studies/{study}", params={"reason": reason})
        assert answer.status_code == 200, answer.text
    return study


def test_admin_restores_and_empties_the_bin(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    first = _deleted_study(core, "BR1", "检查部位错误")
    _deleted_study(core, "BR2", "重复检查")
    tab.goto(core.base_url + "/login")
    sign_in(tab, "admin", ADMIN_PASSWORD)
    tab.wait_for_load_state("networkidle")
    tab.click("nav.mainnav details[data-menu=admin] > summary")
    tab.click("nav.mainnav details[data-menu=admin] >> text=回收站")
    tab.wait_for_url("**/storage/recycle-bin")
    rows = tab.locator("#entries tbody tr")
    expect(rows).to_have_count(2)
    expect(tab.locator("#keep-days")).to_have_value("30")
    row = rows.filter(has_text="检查部位错误")
    expect(row).to_contain_text("王建国 (BR1)")
    expect(row).to_contain_text("整个检查")
    expect(row).to_contain_text("admin")
    assert "^" not in tab.locator("#entries").inner_text()
    tab.screenshot(path=str(shots / "bin.png"), full_page=True)

    row.get_by_role("button", name="恢复").click()
    expect(tab.locator("#status")).to_have_text("已恢复。")
    expect(rows).to_have_count(1)
    assert core.core.archive.count("STUDY", {"StudyInstanceUID": first}) == 1

    tab.locator("#keep-days").fill("14")
    tab.click("#save-settings")
    expect(tab.locator("#status")).to_have_text("已保存。")
    with core.api() as admin:
        assert admin.get("/api/storage/recycle-bin/settings").json()["keep_days"] == 14

    tab.click("#empty")
    expect(tab.locator("#confirm-empty")).to_be_visible()
    tab.click("#confirm-yes")
    expect(tab.locator("#status")).to_have_text("已清除 1 项。")
    expect(tab.locator("#no-entries")).to_be_visible()
    tab.screenshot(path=str(shots / "emptied.png"), full_page=True)
