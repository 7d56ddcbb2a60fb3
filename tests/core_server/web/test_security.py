"""Forwarded headers only from trusted proxies, the headers every answer carries, sign-in
limits per client address, the password policy over the API, and refusals shown as pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from core_server import auth
from core_server.auth import signin
from core_server.refusals import NotFound
from core_server.settings import Settings
from core_server.web import refusals
from core_server.web.proxies import ForwardedHeaders, parse_networks
from tests.conftest import ADMIN_PASSWORD, RunningCore


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    """A core with its default settings: no proxy is trusted."""
    running = RunningCore(tmp_path_factory.mktemp("plain") / "data").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    """A core behind a reverse proxy on the loopback (where the tests connect from)."""
    data = tmp_path_factory.mktemp("proxied") / "data"
    running = RunningCore(data, trusted_proxies="10.9.0.0/16, 127.0.0.1").start()
    try:
        yield running
    finally:
        running.stop()


def _last_sign_in_address(core: RunningCore, username: str) -> str:
    _total, events = auth.query_audit(core.core.engine, username=username, action="login.")
    return events[0].address


def test_forwarded_headers_are_ignored_from_anyone_but_a_trusted_proxy(core: RunningCore) -> None:
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    answer = httpx.post(
        core.base_url + "/login",
        data={"username": "admin", "password": ADMIN_PASSWORD},
        headers={**forged, "Origin": core.base_url},
    )
    assert answer.status_code == 303
    assert "Secure" not in answer.headers["set-cookie"]
    assert _last_sign_in_address(core, "admin") == "127.0.0.1"


def test_behind_a_trusted_proxy_its_headers_apply(proxied: RunningCore) -> None:
    host = "pacs.example"
    headers = {
        "X-Forwarded-For": "198.51.100.7, 10.9.0.3",  # the client, then a second proxy
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": host,
        "Origin": f"https://{host}",
    }
    answer = httpx.post(
        proxied.base_url + "/login",
        data={"username": "admin", "password": ADMIN_PASSWORD},
        headers=headers,
    )
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]  # the browser came over HTTPS
    assert _last_sign_in_address(proxied, "admin") == "198.51.100.7"
    # The CSRF check takes the proxy's X-Forwarded-Host as this site's name.
    cookie = {"Cookie": f"session={proxied.token()}"}
    ct = {"ae_title": "CT03", "host": "10.1.2.3", "port": 104}
    same = httpx.post(proxied.base_url + "/api/modalities", json=ct, headers={**headers, **cookie})
    assert same.status_code == 201
    other = httpx.post(
        proxied.base_url + "/api/modalities",
        json={**ct, "ae_title": "CT04"},
        headers={**headers, **cookie, "Origin": "https://evil.example"},
    )
    assert other.status_code == 403


def test_trusted_proxies_setting_is_checked() -> None:
    assert len(parse_networks("10.0.0.5, 192.168.1.0/24, ::1")) == 3
    assert parse_networks("") == ()
    with pytest.raises(ValueError, match="not an address"):
        parse_networks("proxy.example")
    ForwardedHeaders(FastAPI(), "")  # none trusted: a no-op


def test_every_answer_says_nosniff_and_patient_data_is_not_cached(core: RunningCore) -> None:
    with core.api() as client:
        for path in ("/api/studies", "/api/auth/me", "/dicom-web/studies", "/api/no-such"):
            answer = client.get(path)
            assert answer.headers["x-content-type-options"] == "nosniff", path
            assert answer.headers["cache-control"] == "no-store", path
    refused = httpx.get(core.base_url + "/api/studies")  # a refusal too
    assert refused.status_code == 401 and refused.headers["cache-control"] == "no-store"
    assert refused.headers["www-authenticate"] == "Bearer"
    style = httpx.get(core.base_url + "/static/app.css")
    assert style.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in style.headers.get("cache-control", "")  # not patient data


def test_openapi_is_found_where_tools_look_first(core: RunningCore) -> None:
    moved = httpx.get(core.base_url + "/openapi.json")
    assert moved.status_code == 308 and moved.headers["location"] == "/api/openapi.json"
    document = httpx.get(core.base_url + "/openapi.json", follow_redirects=True)
    assert document.json()["info"]["title"].startswith("Imaging appliance")


def test_one_address_cannot_go_on_guessing(proxied: RunningCore) -> None:
    """A client address that keeps failing, whatever user names it tries, must wait; other
    addresses (the hospital's other workstations) are not held up."""
    url = proxied.base_url + "/api/auth/token"
    attacker = {"X-Forwarded-For": "198.51.100.66"}
    for n in range(signin.ADDRESS_MAX_FAILURES):
        answer = httpx.post(url, data={"username": f"nobody{n}", "password": "x"}, headers=attacker)
        assert answer.status_code == 401
    held = httpx.post(url, data={"username": "admin", "password": ADMIN_PASSWORD}, headers=attacker)
    assert held.status_code == 429
    assert held.json()["detail"]["code"] == "auth.signin.address_throttled"
    assert int(held.headers["Retry-After"]) > 0
    elsewhere = {"X-Forwarded-For": "198.51.100.67"}
    ok = httpx.post(url, data={"username": "admin", "password": ADMIN_PASSWORD}, headers=elsewhere)
    assert ok.status_code == 200


def test_a_forged_forwarded_for_does_not_escape_the_address_limit(core: RunningCore) -> None:
    url = core.base_url + "/api/auth/token"
    for n in range(signin.ADDRESS_MAX_FAILURES):
        headers = {"X-Forwarded-For": f"198.51.100.{n}"}  # a new "address" every time
        httpx.post(url, data={"username": f"guess{n}", "password": "x"}, headers=headers)
    held = httpx.post(url, data={"username": "guess", "password": "x"})
    assert held.status_code == 429  # all of them came from the loopback


@pytest.mark.parametrize(
    "password",
    ["password", "12345678", "        ", "Password1", "P@ssw0rd!", "qwerty123", "woaini1314"],
)
def test_weak_passwords_are_refused_by_the_api(proxied: RunningCore, password: str) -> None:
    with proxied.api() as admin:
        answer = admin.post(
            "/api/users",
            json={"username": "weak1", "password": password, "role": "registrar"},
            headers={"Accept-Language": "en"},
        )
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail["code"].startswith("auth.password.")
    assert detail["problems"] and detail["message"] and "/" not in detail["message"]


def test_the_policy_is_the_sites(tmp_path: Path) -> None:
    strict = RunningCore(tmp_path / "data", password_min_length=12, password_min_classes=3).start()
    try:
        with strict.api() as admin:
            short = {"username": "u1", "password": "Short-pass1", "role": "registrar"}
            answer = admin.post("/api/users", json=short)
            assert answer.json()["detail"]["code"] == "auth.password.too_short"
            assert answer.json()["detail"]["min_length"] == 12
            two = {"username": "u1", "password": "long-enough-pass", "role": "registrar"}
            assert admin.post("/api/users", json=two).json()["detail"]["code"] == (
                "auth.password.classes"
            )
            good = {"username": "u1", "password": "Long-enough-pass", "role": "registrar"}
            assert admin.post("/api/users", json=good).status_code == 201
            page = admin.get("/admin/users", headers={"Accept": "text/html"})
            assert page.status_code == 200 and 'minlength="12"' in page.text
    finally:
        strict.stop()


def _page_app() -> FastAPI:
    app = FastAPI()
    app.state.ctx = SimpleNamespace(settings=Settings())
    refusals.install(app)

    @app.get("/some-page")
    def page(request: Request) -> None:
        request.state.page = True  # what require_page marks
        raise NotFound("auth.user.unknown", username="li")

    @app.get("/api/thing")
    def api() -> None:
        raise NotFound("auth.user.unknown", username="li")

    return app


def test_a_refusal_on_a_page_is_an_error_page_and_json_for_the_api() -> None:
    with TestClient(_page_app()) as client:
        page = client.get("/some-page")
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "没有用户 li" in page.text and "<html" in page.text
        api = client.get("/api/thing", headers={"Accept": "text/html,*/*"})
        assert api.headers["content-type"] == "application/json"
        assert api.json()["detail"]["code"] == "auth.user.unknown"
