"""In headless Chromium, the storage areas page: the online area and what each area holds
(copies, verified), a filesystem area added and edited, an S3 area's secret never shown (and
kept when the edit leaves it empty), an offline area's sets: the current one sealed, the
sealed set shown as taken away ("insert set") until it is back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from core_server import auth
from core_server.archive import copies
from tests.conftest import RunningCore
from tests.core_server.storage.tiers.conftest import store_study
from tests.e2e.browser import (
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")
PASSWORD = "password-123"
SECRET = "very-secret-key-0123"


def test_areas_page(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    artifacts: Path = artifacts_for(request)
    archive = core.core.archive
    _, objects = store_study(archive, 2)
    auth.create_user(core.core.engine, "areas-admin", PASSWORD, "admin")
    page, guard = open_page(browser, core.base_url, "/admin/storage/areas", "areas-admin", PASSWORD)
    expect(page.locator("#areas tr[data-area=online]")).to_contain_text("2")

    (tmp_path / "nas").mkdir()
    page.fill("#area-form [name=name]", "nas")
    page.select_option("#area-form [name=kind]", "filesystem")
    page.fill("#area-form [name=location]", str(tmp_path / "nas"))
    page.fill("#area-form [name=rank]", "5")
    expect(page.locator("#area-form fieldset[data-kind=s3]")).to_be_hidden()
    page.click("#area-form [type=submit]")
    nas = page.locator("#areas tr[data-area=nas]")
    expect(nas).to_contain_text(str(tmp_path / "nas"))
    for uid in objects:
        copies.copy_to(archive.engine, archive.areas, uid, "nas")
    nas.locator("button.edit").click()
    expect(page.locator("#area-form [name=name]")).to_have_value("nas")
    page.fill("#area-form [name=rank]", "7")
    page.click("#area-form [type=submit]")
    expect(nas.locator("td.num").first).to_have_text("7")
    expect(nas.locator("td.copies")).to_have_text("2 / 2 已校验")

    page.fill("#area-form [name=name]", "cloud")
    page.select_option("#area-form [name=kind]", "s3")
    page.fill("#area-form [name=location]", "pacs-bucket")
    page.fill("#area-form [name=endpoint_url]", "http://127.0.0.1:9")
    page.fill("#area-form [name=access_key]", "AK")
    page.fill("#area-form [name=secret_key]", SECRET)
    page.click("#area-form [type=submit]")
    cloud = page.locator("#areas tr[data-area=cloud]")
    expect(cloud).to_contain_text("已设密钥")
    cloud.locator("button.edit").click()
    expect(page.locator("#area-form [name=secret_key]")).to_have_value("")
    page.fill("#area-form [name=rank]", "30")
    page.click("#area-form [type=submit]")
    expect(cloud.locator("td.num").first).to_have_text("30")
    assert archive.areas.spec("cloud").secret_key == SECRET  # kept
    assert SECRET not in page.content()

    vault = tmp_path / "vault"
    vault.mkdir()
    page.fill("#area-form [name=name]", "vault")
    page.select_option("#area-form [name=kind]", "offline")
    page.fill("#area-form [name=location]", str(vault))
    page.fill("#area-form [name=label]", "SET-A")
    page.click("#area-form [type=submit]")
    expect(page.locator("#areas tr[data-area=vault]")).to_contain_text("SET-A")
    for uid in objects:
        copies.copy_to(archive.engine, archive.areas, uid, "vault")
    page.reload()
    page.locator("#areas tr[data-area=vault] button.show-sets").click()
    expect(page.locator("#sets tr[data-label=SET-A]")).to_have_attribute("data-state", "filling")
    page.fill("#seal-form [name=next_label]", "SET-B")
    page.click("#seal-form button")
    expect(page.locator("#status")).to_contain_text("SET-A")
    expect(page.locator("#sets tr[data-label=SET-B]")).to_have_attribute("data-state", "filling")
    expect(page.locator("#sets tr[data-label=SET-A]")).to_have_attribute("data-state", "present")
    shutil.move(vault / "SET-A", tmp_path / "SET-A")  # carried away
    page.reload()
    page.locator("#areas tr[data-area=vault] button.show-sets").click()
    taken = page.locator("#sets tr[data-label=SET-A]")
    expect(taken).to_have_attribute("data-state", "insert_set")
    expect(taken).to_contain_text("请放入介质 SET-A")
    page.screenshot(path=str(artifacts / "storage-areas.png"), full_page=True)
    guard.assert_clean()
