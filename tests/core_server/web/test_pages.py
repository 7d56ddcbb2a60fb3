"""The web shell's pages over real HTTP: login form and session cookie, CSRF refusal, forced
password change, role-filtered navigation, language, and nothing loaded from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core_server import auth
from core_server.web.templating import STATIC_DIR, TEMPLATES_DIR, feature_dirs
from tests.conftest import ADMIN_PASSWORD, RunningCore


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    """One core for this module's tests: each signs in its own users in its own client."""
    running = RunningCore(tmp_path_factory.mktemp("pages") / "data").start()
    try:
        yield running
    finally:
        running.stop()


def _browser(core: RunningCore) -> httpx.Client:
    """What a browser on this site sends: its Origin on every form post."""
    return httpx.Client(base_url=core.base_url, headers={"Origin": core.base_url})


def _sign_in(client: httpx.Client, username: str, password: str, next: str = "/") -> httpx.Response:
    return client.post("/login", data={"username": username, "password": password, "next": next})


def test_login_page_form_and_session_cookie(core: RunningCore) -> None:
    with _browser(core) as browser:
        away = browser.get("/admin/users")
        assert (
            away.status_code == 303 and away.headers["location"] == "/login?next=%2Fadmin%2Fusers"
        )
        page = browser.get(away.headers["location"])
        assert page.status_code == 200
        assert '<html lang="zh-CN" data-timezone="Asia/Shanghai">' in page.text
        for element in ('id="username"', 'id="password"', 'id="login"'):
            assert element in page.text
        assert 'name="next" value="/admin/users"' in page.text

        wrong = _sign_in(browser, "admin", "not-the-password", "/admin/users")
        assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
        assert "session" not in browser.cookies

        signed_in = _sign_in(browser, "admin", ADMIN_PASSWORD, "/admin/users")
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin/users"
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP on the hospital LAN
        users = browser.get("/admin/users")
        assert users.status_code == 200 and 'id="users"' in users.text
        assert browser.get("/api/auth/me").json()["username"] == "admin"


def test_login_refuses_other_sites_and_open_redirects(core: RunningCore) -> None:
    with _browser(core) as browser:
        forged = browser.post(
            "/login",
            data={"username": "admin", "password": ADMIN_PASSWORD},
            headers={"Origin": "http://evil.example"},
        )
        assert forged.status_code == 403 and "session" not in forged.headers.get("set-cookie", "")
        for target in (
            "//evil.example/x",
            "https://evil.example",
            "/\\evil.example",
            "javascript:x",
        ):
            answer = _sign_in(browser, "admin", ADMIN_PASSWORD, target)
            assert answer.headers["location"] == "/", target


def test_logout_form_needs_this_site_and_ends_the_session(core: RunningCore) -> None:
    with _browser(core) as browser:
        _sign_in(browser, "admin", ADMIN_PASSWORD)
        token = browser.cookies["session"]
        cross_site = browser.post("/logout", headers={"Origin": "http://evil.example"})
        assert cross_site.status_code == 403
        no_origin = httpx.post(core.base_url + "/logout", cookies={"session": token})
        assert no_origin.status_code == 403
        assert browser.get("/api/auth/me").status_code == 200  # still signed in
        out = browser.post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert "session=" in out.headers["set-cookie"]
    # The token itself is revoked, not only the cookie dropped.
    assert httpx.get(core.base_url + "/api/auth/me", cookies={"session": token}).status_code == 401


def test_first_sign_in_must_change_the_password(core: RunningCore) -> None:
    with core.api() as admin:
        admin.post(
            "/api/users",
            json={"username": "doc1", "password": "initial-pass-1", "role": "reporting_doctor"},
        ).raise_for_status()
    with _browser(core) as browser:
        answer = _sign_in(browser, "doc1", "initial-pass-1", "/studies")
        assert answer.headers["location"] == "/password?next=%2Fstudies"
        held = browser.get("/studies")
        assert held.status_code == 303 and held.headers["location"].startswith("/password?next=")
        assert browser.get("/api/studies").status_code == 403
        form = browser.get("/password?next=/studies")
        assert form.status_code == 200 and "请先设置您自己的新密码" in form.text
        fields = {"current_password": "initial-pass-1", "next": "/studies"}
        mismatch = browser.post(
            "/password", data={**fields, "new_password": "new-pass-22", "confirm_password": "x"}
        )
        assert mismatch.status_code == 400 and "两次输入的新密码不一致" in mismatch.text
        short = browser.post(
            "/password", data={**fields, "new_password": "short", "confirm_password": "short"}
        )
        assert short.status_code == 400 and "至少需要 8 个字符" in short.text
        done = browser.post(
            "/password",
            data={**fields, "new_password": "new-pass-22", "confirm_password": "new-pass-22"},
        )
        assert done.status_code == 303 and done.headers["location"] == "/studies"
        assert browser.get("/studies").status_code == 200
    core.token("doc1", "new-pass-22")


def test_navigation_follows_the_role_and_wrong_roles_get_a_page(core: RunningCore) -> None:
    engine = core.core.engine
    auth.create_user(engine, "tech1", "tech-pass-1", "technician", "李技师")
    auth.create_user(engine, "dev1", "device-pass-1", "device")
    with _browser(core) as browser:
        _sign_in(browser, "admin", ADMIN_PASSWORD)
        page = browser.get("/studies").text
        for link in ("/studies", "/admin/users", "/admin/modalities", "/admin/audit"):
            assert f'href="{link}"' in page
    with _browser(core) as browser:
        assert _sign_in(browser, "tech1", "tech-pass-1").headers["location"] == "/"
        assert browser.get("/").headers["location"] == "/ris/technician"  # their work page
        page = browser.get("/studies").text
        assert 'href="/studies"' in page and "/admin/users" not in page
        assert "李技师" in page and "技师" in page
        refused = browser.get("/admin/users")
        assert refused.status_code == 403 and "无权访问" in refused.text
    with _browser(core) as browser:
        _sign_in(browser, "dev1", "device-pass-1")
        assert browser.get("/studies").status_code == 403


def test_language_switch_and_security_headers(core: RunningCore) -> None:
    with _browser(core) as browser:
        chinese = browser.get("/login")
        assert (
            '<html lang="zh-CN" data-timezone="Asia/Shanghai">' in chinese.text
            and "登录" in chinese.text
        )
        browser.cookies.set("lang", "en")
        english = browser.get("/login")
        assert (
            '<html lang="en" data-timezone="Asia/Shanghai">' in english.text
            and "Sign in" in english.text
        )
        assert "登录" not in english.text
        policy = english.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src" not in policy
        assert english.headers["cache-control"] == "no-store"
        assert browser.get("/static/app.css").status_code == 200  # before signing in


_EXTERNAL = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?(?:https?:)?//""", re.IGNORECASE)


def test_nothing_loads_from_outside_the_appliance() -> None:
    features = [p for kind in ("templates", "static") for p in feature_dirs(kind).values()]
    files = [*Path(TEMPLATES_DIR).rglob("*.html"), *Path(STATIC_DIR).rglob("*.*")]
    files += [path for folder in features for path in folder.rglob("*.*")]
    offenders = [str(path) for path in files if _EXTERNAL.search(path.read_text(encoding="utf-8"))]
    assert len(files) > 10 and offenders == []


def test_the_hospital_names_itself(tmp_path: Path) -> None:
    core = RunningCore(tmp_path / "data", hospital_name="北京协和医院放射科").start()
    try:
        page = httpx.get(core.base_url + "/login").text
        assert '<a class="brand" href="/">北京协和医院放射科</a>' in page
        assert "<title>登录 · 北京协和医院放射科</title>" in page
    finally:
        core.stop()


@pytest.mark.parametrize(
    ("role", "start"),
    [
        ("registrar", "/ris/register"),
        ("technician", "/ris/technician"),
        ("reporting_doctor", "/reporting"),
        ("reviewing_doctor", "/reporting"),
        ("clinician", "/studies"),
        ("admin", "/admin"),
    ],
)
def test_each_role_lands_on_its_own_work_page(core: RunningCore, role: str, start: str) -> None:
    username = f"start-{role}"
    auth.create_user(core.core.engine, username, "start-pass-1", role)
    with _browser(core) as browser:
        _sign_in(browser, username, "start-pass-1")
        assert browser.get("/").headers["location"] == start
        assert browser.get(start).status_code == 200


def test_the_header_groups_its_links_in_two_menus(core: RunningCore) -> None:
    with _browser(core) as browser:
        _sign_in(browser, "admin", ADMIN_PASSWORD)
        page = browser.get("/admin/users").text
    nav = page[page.index('<nav class="mainnav"') : page.index("</nav>")]
    # The administrator's many links: a 工作 and a 管理 drop-down, nothing loose in the bar.
    assert nav.count("<details") == 2 and 'data-menu="work"' in nav and 'data-menu="admin"' in nav
    admin_menu = nav[nav.index('data-menu="admin"') :]
    assert '<summary class="active">管理</summary>' in admin_menu
    assert 'href="/admin/users" class="active" aria-current="page"' in admin_menu
    assert 'href="/admin" class' not in admin_menu  # the overview is not the current page
    auth.create_user(core.core.engine, "reg-nav", "reg-nav-pass-1", "registrar")
    with _browser(core) as browser:
        _sign_in(browser, "reg-nav", "reg-nav-pass-1")
        page = browser.get("/studies").text
    nav = page[page.index('<nav class="mainnav"') : page.index("</nav>")]
    assert "<details" not in nav and 'href="/ris/register"' in nav  # a few links: inline
