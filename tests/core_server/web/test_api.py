"""The REST API over real HTTP: health, sign-in, users, modalities, and that no route is open."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from core_server.server import create_app
from core_server.settings import Settings
from tests.conftest import RunningCore


def test_healthz_reports_every_listener(core: RunningCore) -> None:
    answer = httpx.get(core.base_url + "/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["listeners"] == {"dicom": True, "hl7": True, "http": True}
    assert body["ae_title"] == "PACS"


def test_sign_in_gives_a_bearer_token(core: RunningCore) -> None:
    bad = httpx.post(
        core.base_url + "/api/auth/token", data={"username": "admin", "password": "wrong-one"}
    )
    assert bad.status_code == 401
    with core.api() as client:
        me = client.get("/api/auth/me")
        assert me.status_code == 200
        assert me.json()["username"] == "admin" and me.json()["role"] == "admin"
        assert client.post("/api/auth/logout").status_code == 204
        assert client.get("/api/auth/me").status_code == 401  # the token is revoked


def test_initial_admin_password_written_once_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    create_app(settings)
    secret = tmp_path / "data" / "initial-admin-password"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    password = secret.read_text().strip()
    first = secret.stat().st_mtime_ns
    create_app(settings)  # a second start leaves it alone
    assert secret.stat().st_mtime_ns == first
    core = RunningCore(tmp_path / "data").start()
    try:
        answer = httpx.post(
            core.base_url + "/api/auth/token", data={"username": "admin", "password": password}
        )
        assert answer.status_code == 200
        assert answer.json()["must_change_password"] is True
    finally:
        core.stop()


def test_modalities_crud_applies_at_once(core: RunningCore) -> None:
    with core.api() as client:
        assert client.get("/api/modalities").json() == []
        ct = {"ae_title": "CT01", "host": "10.1.2.3", "port": 104, "description": "CT 1"}
        assert client.post("/api/modalities", json=ct).status_code == 201
        assert client.post("/api/modalities", json=ct).status_code == 409
        assert client.post("/api/modalities", json={**ct, "port": 0}).status_code == 422
        assert client.post("/api/modalities", json={**ct, "ae_title": "A" * 17}).status_code == 422
        changed = client.patch("/api/modalities/CT01", json={"allow_query": False, "port": 11112})
        assert changed.status_code == 200
        assert changed.json()["allow_query"] is False and changed.json()["port"] == 11112
        assert client.get("/api/modalities/CT01").json()["description"] == "CT 1"
        assert client.patch("/api/modalities/NOPE", json={"port": 1}).status_code == 404
        assert client.delete("/api/modalities/CT01").status_code == 204
        assert client.get("/api/modalities/CT01").status_code == 404


def test_users_and_password_change(core: RunningCore) -> None:
    with core.api() as admin:
        answer = admin.post(
            "/api/users",
            json={"username": "reg1", "password": "first-pass-1", "role": "registrar"},
        )
        assert answer.status_code == 201
        bad_role = {"username": "x", "password": "long-enough", "role": "janitor"}
        assert admin.post("/api/users", json=bad_role).status_code == 400
    with core.api("reg1", "first-pass-1") as registrar:
        assert registrar.get("/api/modalities").status_code == 403
        assert registrar.get("/api/archive/statistics").status_code == 200
        change = {"current_password": "first-pass-1", "new_password": "second-pass-2"}
        assert registrar.post("/api/auth/password", json=change).status_code == 204
    core.token("reg1", "second-pass-2")


def _routes(core: RunningCore) -> list[tuple[str, str]]:
    """(method, path) of every route: the OpenAPI schema's (which includes the routers'),
    plus any top-level route kept out of the schema."""
    found = {
        (method.upper(), path)
        for path, operations in core.app.openapi()["paths"].items()
        for method in operations
    }
    for route in core.app.routes:
        if isinstance(route, Route) and route.methods:
            found.update((method, route.path) for method in route.methods if method != "HEAD")
    return sorted(found)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X", path)


def test_every_route_refuses_anonymous_requests(core: RunningCore) -> None:
    """Walks the route table, so a new route without a role check fails here."""
    # Open on purpose: health for the load balancer, sign-in, and the API's own documentation.
    open_routes = {"/healthz", "/api/auth/token", "/api/openapi.json"}
    checked = 0
    for method, path in _routes(core):
        if path in open_routes or path.startswith("/api/docs"):
            continue
        answer = httpx.request(method, core.base_url + _concrete(path))
        assert answer.status_code == 401, f"{method} {path} answered {answer.status_code}"
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("role", ["registrar", "technician", "clinician", "device"])
def test_admin_routes_refuse_other_roles(core: RunningCore, role: str) -> None:
    with core.api() as admin:
        admin.post(
            "/api/users", json={"username": role, "password": "password-123", "role": role}
        ).raise_for_status()
    with core.api(role, "password-123") as client:
        admin_routes = [
            (method, path)
            for method, path in _routes(core)
            if path.startswith(("/api/modalities", "/api/users"))
        ]
        assert len(admin_routes) >= 6
        for method, path in admin_routes:
            answer = client.request(method, _concrete(path), json={})
            assert answer.status_code == 403, f"{role} {method} {path}"
