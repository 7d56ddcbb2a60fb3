"""In headless Chromium: an administrator signs in, adds a user and deactivates them, adds a
modality and removes it, finds those changes in the audit trail, switches the pages to
English and signs out; a technician signing in for the first time must set a password and
then sees the study list without the administration pages. Nothing may leave the appliance,
and the pages' scripts run under their CSP without errors.

Screenshots are kept in ``test-artifacts/test_browser_admin/<test>/``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

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


def test_administrator_manages_users_modalities_and_reads_the_audit(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    tab.goto(core.base_url + "/admin/users")
    assert "/login?next=%2Fadmin%2Fusers" in tab.url
    sign_in(tab, "admin", ADMIN_PASSWORD)
    expect(tab.locator("tr.user[data-username=admin]")).to_be_visible()

    tab.click("#add-user")
    tab.fill("#user-username", "tech9")
    tab.fill("#user-display-name", "王技师")
    tab.select_option("#user-role", "technician")
    tab.fill("#user-password", "temp-pass-9")
    tab.click("#user-save")
    added = tab.locator("tr.user[data-username=tech9]")
    expect(added).to_contain_text("王技师")
    expect(added).to_contain_text("待修改密码")
    added.locator("button.edit").click()
    tab.uncheck("#user-active")
    tab.click("#user-save")
    expect(added.locator(".badge.off")).to_have_text("已停用")
    tab.screenshot(path=str(shots / "users.png"), full_page=True)

    tab.click("nav.mainnav details[data-menu=admin] > summary")  # the grouped admin menu
    tab.click("nav.mainnav >> text=设备管理")
    tab.wait_for_load_state("networkidle")  # the page's module script is deferred
    tab.click("#add-modality")
    tab.fill("#modality-ae", "CT01")
    tab.fill("#modality-host", "10.0.0.9")
    tab.fill("#modality-port", "11112")
    expect(tab.locator("#modality-allow_store")).to_be_checked()
    expect(tab.locator("#modality-allow_overwrite")).not_to_be_checked()  # a right given apart
    tab.uncheck("#modality-allow_retrieve")
    tab.click("#modality-save")
    modality = tab.locator("tr.modality[data-ae-title=CT01]")
    expect(modality).to_contain_text("10.0.0.9:11112")
    expect(modality).to_contain_text("允许覆盖已归档影像 ✗")
    with core.api() as admin:
        (saved,) = [m for m in admin.get("/api/modalities").json() if m["ae_title"] == "CT01"]
    assert (saved["allow_retrieve"], saved["allow_overwrite"]) == (False, False)
    modality.locator("button.edit").click()
    tab.check("#modality-allow_overwrite")
    tab.click("#modality-save")
    expect(modality).to_contain_text("允许覆盖已归档影像 ✓")
    tab.once("dialog", lambda dialog: dialog.accept())
    modality.locator("button.remove").click()
    expect(modality).to_have_count(0)

    tab.click("nav.mainnav details[data-menu=admin] > summary")  # the grouped admin menu
    tab.click("nav.mainnav >> text=审计日志")
    events = tab.locator("tr.audit-event")
    expect(events.first).to_be_visible()
    for text in ("删除设备", "新增设备", "修改用户", "新增用户", "登录成功"):
        expect(events.filter(has_text=text)).not_to_have_count(0)
    tab.select_option("#audit-action", "modality.create")
    tab.click("#audit-go")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("modality:CT01")
    tab.screenshot(path=str(shots / "audit.png"), full_page=True)

    tab.click(".lang-switch [data-lang=en]")
    expect(tab.locator("html")).to_have_attribute("lang", "en")
    expect(tab.locator("h1")).to_have_text("Audit trail")
    tab.click("#user-menu summary")
    tab.click("#logout")
    tab.wait_for_url("**/login")
    expect(tab.locator("#login")).to_have_text("Sign in")


def test_first_sign_in_sets_a_password_then_shows_the_study_list(
    core: RunningCore, page: tuple[Page, NetworkGuard]
) -> None:
    tab, _guard = page
    stored = make_ct(patient_id="P7", patient_name="单田芳", charset="ISO_IR 192")
    core.core.archive.store_instance(encode(stored), Origin("import"))
    with core.api() as admin:
        admin.post(
            "/api/users",
            json={"username": "tech1", "password": "temp-pass-1", "role": "technician"},
        ).raise_for_status()
    tab.goto(core.base_url + "/studies")
    sign_in(tab, "tech1", "temp-pass-1")
    assert "/password?next=%2Fstudies" in tab.url
    tab.fill("#current_password", "temp-pass-1")
    tab.fill("#new_password", "own-pass-22")
    tab.fill("#confirm_password", "own-pass-22")
    tab.click("#change-password")
    tab.wait_for_url("**/studies")
    expect(tab.locator("nav.mainnav")).not_to_contain_text("用户管理")
    tab.fill("#q", "stf")
    tab.click("#search")
    row = tab.locator("tr.study")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("单田芳")
    link = row.locator("a.open-viewer")
    expect(link).to_have_attribute("href", f"/viewer?StudyInstanceUIDs={stored.StudyInstanceUID}")
    assert tab.url.endswith("/studies?q=stf")  # the search stays in the address
