"""In headless Chromium, with TOTP required for administrators: the admin signs in with the
password, is shown the QR code and key of a new secret, types the code pyotp computes from
it, is shown ten recovery codes once and goes on signed in; signs out; the next sign-in asks
for the code, refuses a wrong one and takes a recovery code. An administrator then ends a
technician's session from the users' sessions API and that tab's next page is the login.

Screenshots are kept in ``test-artifacts/test_browser_signin/<test>/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Page, expect

from core_server.auth import totp
from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture
def core(tmp_path: Path) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path / "data", totp_required_for_admins=True).start()
    try:
        yield running
    finally:
        running.stop()


def test_admin_enrols_and_signs_in_with_totp(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    tab.goto(core.base_url + "/admin/users")
    sign_in(tab, "admin", ADMIN_PASSWORD)
    expect(tab.locator("#login-notice")).to_contain_text("管理员必须使用动态码登录")
    expect(tab.locator("#totp-qr svg")).to_be_visible()
    secret = tab.locator("#totp-secret").inner_text().strip()
    tab.screenshot(path=str(shots / "enrol.png"), full_page=True)
    tab.fill("#code", pyotp.TOTP(secret).now())
    with tab.expect_navigation():
        tab.click("#verify")
    codes = tab.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    recovery = [c.strip() for c in codes.all_inner_texts()]
    tab.screenshot(path=str(shots / "recovery.png"), full_page=True)
    with tab.expect_navigation():
        tab.click("#continue")
    expect(tab.locator("tr.user[data-username=admin]")).to_be_visible()

    tab.context.clear_cookies()
    tab.goto(core.base_url + "/admin/users")
    sign_in(tab, "admin", ADMIN_PASSWORD)
    expect(tab.locator("#login-notice")).to_contain_text("6 位动态码")
    expect(tab.locator("#totp-qr")).to_have_count(0)
    tab.fill("#code", "000000")
    with tab.expect_navigation():
        tab.click("#verify")
    expect(tab.locator("#login-error")).to_contain_text("动态码错误")
    tab.fill("#code", recovery[0])
    with tab.expect_navigation():
        tab.click("#verify")
    expect(tab.locator("tr.user[data-username=admin]")).to_be_visible()
    tab.screenshot(path=str(shots / "signed_in.png"), full_page=True)


def test_a_revoked_session_is_signed_out_at_once(
    core: RunningCore, page: tuple[Page, NetworkGuard]
) -> None:
    tab, _guard = page
    with _admin(core) as admin:
        admin.post(
            "/api/users",
            json={"username": "tech1", "password": "Secret-pass-1", "role": "technician"},
        ).raise_for_status()
        tab.goto(core.base_url + "/studies")
        sign_in(tab, "tech1", "Secret-pass-1")
        expect(tab.locator("#username")).to_have_count(0)  # signed in (must set a password)
        sessions = admin.get("/api/auth/users/tech1/sessions").json()
        assert len(sessions) == 1 and sessions[0]["browser"]
        assert "Chrome" in sessions[0]["user_agent"]
        admin.delete(f"/api/auth/users/tech1/sessions/{sessions[0]['id']}").raise_for_status()
    tab.goto(core.base_url + "/studies")
    expect(tab.locator("#username")).to_be_visible()
    assert "/login?next=%2Fstudies" in tab.url


def _admin(core: RunningCore) -> httpx.Client:
    """An API client for the admin, enrolled in TOTP through the domain (the site requires it)."""
    engine = core.app.state.ctx.engine
    secret = totp.secret_of(totp.begin(engine, "admin", "PACS"))
    recovery = totp.confirm(engine, "admin", pyotp.TOTP(secret).now())
    answer = httpx.post(
        core.base_url + "/api/auth/token",
        data={"username": "admin", "password": ADMIN_PASSWORD, "totp": recovery[0]},
    )
    answer.raise_for_status()
    token = answer.json()["access_token"]
    return httpx.Client(base_url=core.base_url, headers={"Authorization": f"Bearer {token}"})
