"""In headless Chromium: on the storage rules page an admin fills a new rule, its dry run shows
how many objects it would touch (nothing changed), saving lists it, and the saved rule's dry
run answers the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from pydicom.uid import generate_uid

from core_server import auth
from core_server.archive import Origin, copies
from core_server.archive.areas import AreaSpec
from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct
from tests.e2e.browser import (
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")

PASSWORD = "password-123"


def test_rule_dry_run_and_save_in_the_page(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    artifacts: Path = artifacts_for(request)
    archive = core.core.archive
    study, series = generate_uid(), generate_uid()
    uids = [
        archive.store_instance(
            encode(make_ct(study_uid=study, series_uid=series, instance_number=n, modality="MR")),
            Origin("dimse", "MR01"),
        ).sop_instance_uid
        for n in range(1, 5)
    ]
    (tmp_path / "nas").mkdir()
    archive.areas.create(AreaSpec("nas", "filesystem", str(tmp_path / "nas")))
    auth.create_user(core.core.engine, "rules-admin", PASSWORD, "admin")
    page, guard = open_page(browser, core.base_url, "/admin/storage/rules", "rules-admin", PASSWORD)

    page.fill("#rule-form [name=name]", "MR to the NAS")
    page.select_option("#rule-form [name=action]", "move")
    page.fill("#rule-form [name=area]", "nas")
    page.fill("#rule-form [name=modalities]", "MR")
    page.click("#dry-run")
    expect(page.locator("#dry-result")).to_have_attribute("data-instances", "4")
    assert copies.copies_of_many(archive.engine, uids) == {}  # a dry run changes nothing
    page.click("#rule-form [type=submit]")
    expect(page.locator("#rules tbody tr")).to_have_count(1)
    expect(page.locator("#rules tbody tr").first).to_contain_text("MR to the NAS")
    page.evaluate("document.getElementById('dry-result').dataset.instances = ''")
    page.locator("#rules tbody tr button").first.click()
    expect(page.locator("#dry-result")).to_have_attribute("data-instances", "4")
    page.screenshot(path=str(artifacts / "storage-rules.png"), full_page=True)
    guard.assert_clean()
