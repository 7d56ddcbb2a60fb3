"""In headless Chromium: the HL7 page's destination dialog has the MLLP-over-TLS switch the REST
API has (``tls``, migration 0029): ticked when adding, shown on the list, read back into the
edit dialog and switched off again there."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from core_server import auth
from tests.conftest import RunningCore
from tests.e2e.browser import (
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")

PASSWORD = "password-123"


def test_destination_tls_switch_on_add_and_edit(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
) -> None:
    artifacts: Path = artifacts_for(request)
    auth.create_user(core.core.engine, "tls-admin", PASSWORD, "admin")
    page, guard = open_page(browser, core.base_url, "/admin/hl7", "tls-admin", PASSWORD)
    assert core.core.hl7 is not None

    # A new destination is cleartext unless ticked.
    page.click("#add-destination")
    expect(page.locator("#destination-tls")).not_to_be_checked()
    page.fill("#destination-name", "HIS-TLS")
    page.fill("#destination-host", "10.9.8.7")
    page.fill("#destination-port", "2576")
    page.check("#destination-tls")
    expect(page.locator("#destination-tls-hint")).to_contain_text("tls_ca")
    page.click("#destination-form button[type=submit]")
    row = page.locator("#destinations tbody tr", has_text="HIS-TLS")
    expect(row.locator("td.address .badge.tls")).to_have_text("TLS")
    assert core.core.hl7.destination("HIS-TLS").tls is True
    assert core.api().get("/api/hl7/destinations/HIS-TLS").json()["tls"] is True
    page.screenshot(path=str(artifacts / "tls-destination.png"), full_page=True)

    # The edit dialog shows it ticked; unticking it (and nothing else) is saved.
    row.locator("button", has_text="编辑").click()
    expect(page.locator("#destination-tls")).to_be_checked()
    page.uncheck("#destination-tls")
    page.click("#destination-form button[type=submit]")
    expect(row.locator("td.address")).to_have_text("10.9.8.7:2576")
    expect(row.locator(".badge.tls")).to_have_count(0)
    changed = core.core.hl7.destination("HIS-TLS")
    assert changed.tls is False
    assert (changed.host, changed.port) == ("10.9.8.7", 2576)

    # A destination made TLS through the REST API opens ticked too.
    api = core.api()
    api.patch("/api/hl7/destinations/HIS-TLS", json={"tls": True}).raise_for_status()
    page.reload()
    row = page.locator("#destinations tbody tr", has_text="HIS-TLS")
    expect(row.locator(".badge.tls")).to_have_count(1)
    row.locator("button", has_text="编辑").click()
    expect(page.locator("#destination-tls")).to_be_checked()
    page.click("#destination-cancel")
    guard.assert_clean()
