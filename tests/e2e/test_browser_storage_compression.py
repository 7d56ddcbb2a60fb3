"""In headless Chromium, the compression rules page: lossy JPEG 2000 without a ratio is
refused with the catalogue's text, so is a scheduled rule without an age; a lossless JPEG-LS
rule is added and listed, the dry run counts the objects it would compress (nothing
changed), the rule is switched off and removed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from pydicom.uid import JPEG2000, JPEGLSLossless
from sqlalchemy import Engine, update

from core_server import auth, clock, db
from core_server.archive import tables as t
from core_server.storage.compression import rules
from tests.conftest import RunningCore
from tests.core_server.storage.tiers.conftest import store_study
from tests.e2e.browser import (
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")
PASSWORD = "password-123"


def test_compression_page(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
) -> None:
    artifacts: Path = artifacts_for(request)
    archive = core.core.archive
    store_study(archive, 3)
    with db.write(archive.engine) as conn:  # received two days ago: old enough for the rule
        conn.execute(update(t.instances).values(received_at=clock.now() - timedelta(days=2)))
    engine = core.core.engine
    auth.create_user(engine, "comp-admin", PASSWORD, "admin")
    page, guard = open_page(
        browser, core.base_url, "/admin/storage/compression", "comp-admin", PASSWORD
    )
    expect(page.locator("#no-rules")).to_be_visible()

    page.fill("#rule-form [name=name]", "CT lossy")
    page.select_option("#rule-form [name=trigger]", "on_schedule")
    page.select_option("#rule-form [name=transfer_syntax_uid]", str(JPEG2000))
    page.click("#add")
    expect(page.locator("#error")).to_contain_text("压缩比")
    assert rules.all_rules(engine) == []

    page.fill("#rule-form [name=name]", "CT lossless")
    page.select_option("#rule-form [name=transfer_syntax_uid]", str(JPEGLSLossless))
    page.fill("#rule-form [name=modalities]", "CT")
    page.fill("#rule-form [name=min_age_days]", "0")
    page.click("#add")
    expect(page.locator("#error")).to_contain_text("天数")  # a schedule needs an age
    page.fill("#rule-form [name=min_age_days]", "1")
    page.click("#add")
    row = page.locator("#rules tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("CT lossless")
    expect(page.locator("#error")).to_be_hidden()
    (rule,) = rules.all_rules(engine)
    assert rule.transfer_syntax_uid == str(JPEGLSLossless) and rule.trigger == "on_schedule"

    page.click("#dry-run")
    expect(page.locator("#dry-run-result")).to_contain_text("定时规则 3 个对象")
    assert core.core.lifecycle.compression.counts().get("pending", 0) == 0  # nothing queued

    row.locator("input[type=checkbox]").uncheck()
    expect(row.locator("input[type=checkbox]")).not_to_be_checked()
    page.screenshot(path=str(artifacts / "storage-compression.png"), full_page=True)
    _wait_disabled(engine)
    row.locator("button").click()
    expect(page.locator("#no-rules")).to_be_visible()
    assert rules.all_rules(engine) == []
    guard.assert_clean()


def _wait_disabled(engine: Engine) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not rules.all_rules(engine)[0].enabled:
            return
        time.sleep(0.1)
    raise AssertionError("the rule was not switched off")
