"""In headless Chromium, the administrator's users page: a technician's two sessions (address,
browser or program, times) listed in a dialog, one ended and then all (their tokens refused at
once); a user's TOTP shown and reset; a directory (LDAP) user marked, with no password reset;
an account locked from one address shown with that address and unlocked.

Screenshots are kept in ``test-artifacts/test_browser_users_sessions/<test>/``.
"""

from __future__ import annotations

import pyotp
import pytest
from playwright.sync_api import Page, expect

from core_server import auth
from core_server.auth import sessions, signin, totp
from core_server.auth.users import directory_user
from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")

PASSWORD = "Secret-pass-1"


def _users(core: RunningCore) -> None:
    """tech1 with two program sessions, tech2 with TOTP, a directory user, tech3 locked."""
    engine = core.app.state.ctx.engine
    tech1 = auth.create_user(engine, "tech1", PASSWORD, "technician", "王技师")
    auth.issue_token(engine, tech1, 1, address="10.0.0.5", user_agent="Mozilla/5.0 Firefox/128.0")
    auth.issue_token(engine, tech1, 1, address="10.0.0.6", user_agent="python-httpx/0.28.1")
    auth.create_user(engine, "tech2", PASSWORD, "technician", "李技师")
    secret = totp.secret_of(totp.begin(engine, "tech2", "PACS"))
    totp.confirm(engine, "tech2", pyotp.TOTP(secret).now())
    directory_user(engine, "dr.zhang", "张医生", "reporting_doctor")
    auth.create_user(engine, "tech3", PASSWORD, "technician", "赵技师")
    options = signin.SignInOptions.from_settings(core.settings)
    for _ in range(options.lock_failures):
        with pytest.raises(auth.WrongPassword):
            auth.sign_in(engine, "tech3", "guess", 1, address="10.9.9.9", via="t", options=options)


def test_sessions_totp_directory_users_and_unlock(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    engine = core.app.state.ctx.engine
    _users(core)
    tab.goto(core.base_url + "/admin/users")
    sign_in(tab, "admin", ADMIN_PASSWORD)

    tech1 = tab.locator("tr.user[data-username=tech1]")
    tech1.locator("button.sessions").click()
    dialog = tab.locator("#sessions-dialog")
    expect(dialog.locator("#sessions-title")).to_contain_text("tech1")
    rows = dialog.locator("tr.session")
    expect(rows).to_have_count(2)
    expect(dialog.locator("tr.session", has_text="10.0.0.5")).to_contain_text("Firefox 128")
    expect(dialog.locator("tr.session", has_text="10.0.0.6")).to_contain_text("httpx")
    tab.screenshot(path=str(shots / "sessions.png"), full_page=True)
    dialog.locator("tr.session", has_text="10.0.0.5").locator("button.end-session").click()
    expect(rows).to_have_count(1)
    assert [s.address for s in sessions.list_sessions(engine, "tech1")] == ["10.0.0.6"]
    tab.click("#sessions-revoke-all")
    expect(rows).to_have_count(0)
    expect(tab.locator("#sessions-none")).to_be_visible()
    assert sessions.list_sessions(engine, "tech1") == []
    tab.click("#sessions-close")

    tech2 = tab.locator("tr.user[data-username=tech2]")
    expect(tech2.locator(".badge.totp")).to_have_text("动态码")
    tab.once("dialog", lambda d: d.accept())
    tech2.locator("button.totp-reset").click()
    expect(tech2.locator(".badge.totp")).to_have_count(0)
    expect(tab.locator("#status")).to_contain_text("tech2 的动态码已重置")
    assert not auth.get_user(engine, "tech2").totp_enabled  # type: ignore[union-attr]

    directory = tab.locator("tr.user[data-username='dr.zhang']")
    expect(directory.locator(".badge.directory")).to_have_text("目录")
    expect(directory.locator("button.reset")).to_have_count(0)
    expect(tech1.locator("button.reset")).to_have_count(1)

    tech3 = tab.locator("tr.user[data-username=tech3]")
    expect(tech3.locator(".badge.locked")).to_contain_text("10.9.9.9")
    tab.screenshot(path=str(shots / "users.png"), full_page=True)
    tech3.locator("button.unlock").click()
    expect(tech3.locator(".badge.locked")).to_have_count(0)
    expect(tab.locator("#status")).to_contain_text("tech3 已解锁")
    options = signin.SignInOptions.from_settings(core.settings)
    assert signin.pair_wait(engine, "tech3", "10.9.9.9", options) == 0
