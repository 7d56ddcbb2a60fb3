"""In headless Chromium, a technician's own account page (``/account``), reached from the
header's user menu: the sessions (this one marked, "sign out everywhere else" ends the
program's token), a password the policy refuses and then a good one, setting up TOTP (QR code
and key, a wrong code refused without losing the page, pyotp's code switches it on, ten
recovery codes shown once), switching it off with a recovery code (every session ends: the
login page) and signing in again without a code. An administrator whom the site requires to
use codes is offered no switch-off, and the API refuses it too.

Screenshots are kept in ``test-artifacts/test_browser_account/<test>/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Page, expect

from core_server import auth
from core_server.auth import totp
from tests.conftest import RunningCore
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")

PASSWORD = "Secret-pass-1"


@pytest.fixture
def core(tmp_path: Path) -> Iterator[RunningCore]:
    """Codes required for administrators (a technician is not concerned)."""
    running = RunningCore(tmp_path / "data", totp_required_for_admins=True).start()
    try:
        yield running
    finally:
        running.stop()


def test_my_account_sessions_password_and_totp(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, guard = page
    shots = artifacts_for(request)
    engine = core.app.state.ctx.engine
    auth.create_user(engine, "tech1", PASSWORD, "technician", "王技师")
    program = core.api("tech1", PASSWORD)  # a second session: a program's token

    tab.goto(core.base_url + "/studies")
    sign_in(tab, "tech1", PASSWORD)
    tab.click("#user-menu summary")
    with tab.expect_navigation():
        tab.click("#my-account")
    assert tab.url.endswith("/account")
    rows = tab.locator("#my-sessions tr.session")
    expect(rows).to_have_count(2)
    expect(tab.locator("#my-sessions tr.session.current")).to_contain_text("当前会话")
    expect(tab.locator("#my-sessions tr.session:not(.current)")).to_contain_text("httpx")
    tab.screenshot(path=str(shots / "sessions.png"), full_page=True)
    tab.click("#sign-out-others")
    expect(rows).to_have_count(1)
    expect(tab.locator("#status")).to_contain_text("其他会话已全部结束")
    assert program.get("/api/auth/me").status_code == 401

    tab.fill("#pw-current", PASSWORD)
    tab.fill("#pw-new", "Woaini1314")
    tab.fill("#pw-confirm", "Woaini1314")
    tab.click("#pw-save")
    expect(tab.locator("#pw-error")).to_be_visible()
    expect(tab.locator("#pw-error")).to_contain_text("常见")
    tab.fill("#pw-current", PASSWORD)
    tab.fill("#pw-new", "Another-pass-2")
    tab.fill("#pw-confirm", "Another-pass-2")
    tab.click("#pw-save")
    expect(tab.locator("#pw-done")).to_be_visible()
    expect(tab.locator("#pw-error")).to_be_hidden()
    auth.authenticate(engine, "tech1", "Another-pass-2")

    expect(tab.locator("#totp-state")).to_have_text("未开启。")
    expect(tab.locator("#totp-disable-step")).to_be_hidden()
    tab.fill("#totp-password", "Another-pass-2")
    tab.click("#totp-begin")
    expect(tab.locator("#totp-qr svg")).to_be_visible()
    secret = tab.locator("#totp-secret").inner_text().strip()
    tab.fill("#totp-code", "000000")
    tab.click("#totp-confirm")
    expect(tab.locator("#totp-error")).to_contain_text("动态码错误")
    assert tab.url.endswith("/account")  # a wrong code is no lost session
    tab.fill("#totp-code", pyotp.TOTP(secret).now())
    tab.click("#totp-confirm")
    codes = tab.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    recovery = [c.strip() for c in codes.all_inner_texts()]
    expect(tab.locator("#totp-state")).to_contain_text("已开启")
    expect(tab.locator("#totp-disable-step")).to_be_visible()
    tab.screenshot(path=str(shots / "totp_on.png"), full_page=True)
    assert auth.get_user(engine, "tech1").totp_enabled  # type: ignore[union-attr]

    tab.fill("#totp-off-password", "Another-pass-2")
    tab.fill("#totp-off-code", recovery[0])
    with tab.expect_navigation():
        tab.click("#totp-disable")
    expect(tab.locator("#username")).to_be_visible()  # every session ended
    assert not auth.get_user(engine, "tech1").totp_enabled  # type: ignore[union-attr]
    sign_in(tab, "tech1", "Another-pass-2")  # no code asked any more
    expect(tab.locator("#my-sessions tr.session.current")).to_be_visible()
    expect(tab.locator("#recovery-codes li")).to_have_count(0)  # shown once, never again
    # The two refusals above (the common password, the wrong code) are Chromium's only
    # console errors: the failed requests it logs.
    refused = [e for e in guard.console_errors if "status of 400" in e]
    assert len(refused) == 2
    guard.console_errors[:] = [e for e in guard.console_errors if e not in refused]


def test_an_administrator_the_site_requires_codes_of_cannot_switch_them_off(
    core: RunningCore, page: tuple[Page, NetworkGuard]
) -> None:
    tab, _guard = page
    engine = core.app.state.ctx.engine
    auth.create_user(engine, "boss", PASSWORD, "admin", "李主任")
    secret = totp.secret_of(totp.begin(engine, "boss", "PACS"))
    recovery = totp.confirm(engine, "boss", pyotp.TOTP(secret).now())
    tab.goto(core.base_url + "/account")
    sign_in(tab, "boss", PASSWORD)
    tab.fill("#code", recovery[0])
    with tab.expect_navigation():
        tab.click("#verify")
    expect(tab.locator("#totp-state")).to_contain_text("不能关闭")
    expect(tab.locator("#totp-disable-step")).to_be_hidden()
    expect(tab.locator("#totp-begin-step")).to_be_hidden()
    token = httpx.post(
        core.base_url + "/api/auth/token",
        data={"username": "boss", "password": PASSWORD, "totp": recovery[1]},
    ).json()["access_token"]
    refused = httpx.post(
        core.base_url + "/api/auth/totp/disable",
        json={"password": PASSWORD, "code": recovery[2]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 409
    assert refused.json()["detail"]["code"] == "auth.totp.required_by_site"
