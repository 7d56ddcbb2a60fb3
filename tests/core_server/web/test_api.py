"""The REST API over real HTTP: health, sign-in, users, modalities, and that no route is open
to an anonymous caller or a caller with the wrong role."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client

from core_server import auth
from core_server.server import create_app
from core_server.settings import Settings
from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.core_server.web.route_table import Endpoint, concrete, endpoints


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    """One core for this module's tests: each creates users of its own."""
    running = RunningCore(tmp_path_factory.mktemp("api") / "data").start()
    try:
        yield running
    finally:
        running.stop()


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
    good = httpx.post(
        core.base_url + "/api/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert good.json()["access_token"].startswith("pacs_")  # never "-": device CLIs take keys
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
        missing = client.patch("/api/modalities/NOPE", json={"port": 1})
        assert missing.status_code == 404
        assert missing.json()["detail"]["code"] == "modalities.unknown"
        # The page sends the whole form back, AE title included; a new one renames.
        whole = client.patch("/api/modalities/CT01", json={**ct, "allow_overwrite": True})
        assert whole.status_code == 200 and whole.json()["allow_overwrite"] is True
        client.post("/api/modalities", json={**ct, "ae_title": "CT02"}).raise_for_status()
        taken = client.patch("/api/modalities/CT02", json={"ae_title": "CT01"})
        assert taken.status_code == 409 and taken.json()["detail"]["code"] == "modalities.taken"
        renamed = client.patch("/api/modalities/CT02", json={"ae_title": "CT03"})
        assert renamed.status_code == 200 and renamed.json()["ae_title"] == "CT03"
        assert client.delete("/api/modalities/CT03").status_code == 204
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


# Open on purpose: health for the load balancer, sign-in (API and page), the API's own
# documentation, and the stylesheets and scripts the login page needs.
OPEN = {
    ("GET", "/healthz"),
    ("POST", "/api/auth/token"),
    ("GET", "/api/openapi.json"),
    ("GET", "/openapi.json"),  # a redirect to /api/openapi.json
    ("GET", "/api/docs"),
    ("GET", "/api/docs/oauth2-redirect"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/login/code"),  # the TOTP step: carries its own half-way token (docs/signin.md)
    ("MOUNT", "/static"),
    # The cloud film (docs/discs.md): a disc's QR link, behind its own check question.
    ("GET", "/c/{token}"),
    ("POST", "/c/{token}"),
    ("GET", "/c/{token}/series/{series_uid}.jpg"),
    ("GET", "/c/{token}/sheets/{sheet_id}.jpg"),  # the film sheets (docs/film-cloud.md)
    ("GET", "/c/{token}/reports/{exam_id}.pdf"),
    # Enrolment by code (docs/appliance-units.md): a device without a key asks for a code and
    # polls with its secret; bounded per address and in all, nothing to lock anyone out with.
    ("POST", "/api/queueing/enrolment-codes"),
    ("GET", "/api/queueing/enrolment-codes/{secret}"),
    # The boxes' update source (docs/updates.md): public files checked against a signature.
    ("GET", "/updates/{role}/{name}"),
}


def _open(endpoint: Endpoint) -> bool:
    # Every feature's static folder (/static/<feature>) is as open as /static itself.
    static = endpoint.method == "MOUNT" and endpoint.path.startswith("/static/")
    return static or (endpoint.method, endpoint.path) in OPEN


def _guarded(core: RunningCore) -> list[Endpoint]:
    return [e for e in endpoints(core.app) if not _open(e)]


def test_every_route_refuses_anonymous_requests(core: RunningCore) -> None:
    """Walks the route table, so a new route without a check fails here: the API answers 401,
    a page sends the browser to sign in, a WebSocket is refused, a mounted app answers 401."""
    checked = 0
    client = httpx.Client(base_url=core.base_url)
    for endpoint in _guarded(core):
        url = core.base_url + concrete(endpoint.path)
        if endpoint.method == "WS":
            assert _websocket_refused(url.replace("http://", "ws://")), endpoint.path
        elif endpoint.method == "MOUNT":
            answer = client.get(url + "/index.html")
            assert answer.status_code in (401, 303), f"mount {endpoint.path} is open"
        else:
            answer = client.request(endpoint.method, url)
            if endpoint.page and answer.status_code != 401:  # a page's script files answer 401
                assert answer.status_code == 303, f"{endpoint.method} {endpoint.path}"
                assert answer.headers["location"].startswith("/login?next="), endpoint.path
            else:
                message = f"{endpoint.method} {endpoint.path} answered {answer.status_code}"
                assert answer.status_code == 401, message
        checked += 1
    assert checked >= 20


def _websocket_refused(url: str) -> bool:
    try:
        with websockets.sync.client.connect(url, open_timeout=10) as socket:
            # An endpoint may accept first and expect credentials in a first message: a bad one
            # must close it.
            socket.send('{"type": "auth", "token": "not-a-token"}')
            socket.recv(timeout=30)
    except websockets.exceptions.InvalidStatus as refused:
        return refused.response.status_code in (401, 403)
    except websockets.exceptions.ConnectionClosed as closed:
        return closed.rcvd is not None and closed.rcvd.code in (1008, 4401, 4403)
    return False


def test_every_route_checks_a_role(core: RunningCore) -> None:
    """Each guarded HTTP route names the roles it admits (``security.require`` and
    ``require_page`` carry them), so "signed in" alone is never mistaken for "permitted"."""
    unchecked = [
        f"{e.method} {e.path}"
        for e in _guarded(core)
        if e.method not in ("WS", "MOUNT") and e.roles is None
    ]
    assert unchecked == []


def test_every_route_refuses_a_wrong_role(core: RunningCore) -> None:
    engine = core.core.engine
    tokens = {
        role: auth.issue_token(
            engine, auth.create_user(engine, f"as-{role}", "pass-word-1", role), 1
        )
        for role in auth.ROLES
    }
    checked = 0
    client = httpx.Client(base_url=core.base_url)
    for endpoint in _guarded(core):
        if endpoint.method in ("WS", "MOUNT") or endpoint.roles is None:
            continue
        outsider = next((r for r in auth.ROLES if r not in endpoint.roles), None)
        if outsider is None:
            continue  # open to every signed-in user
        answer = client.request(
            endpoint.method,
            concrete(endpoint.path),
            headers={"Authorization": f"Bearer {tokens[outsider]}"},
            json={} if endpoint.method != "GET" else None,
        )
        assert answer.status_code == 403, f"{outsider} {endpoint.method} {endpoint.path}"
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("role", ["registrar", "technician", "clinician", "device"])
def test_admin_routes_refuse_other_roles(core: RunningCore, role: str) -> None:
    with core.api() as admin:
        admin.post(
            "/api/users", json={"username": role, "password": "password-123", "role": role}
        ).raise_for_status()
    with core.api(role, "password-123") as client:
        admin_routes = [
            e for e in endpoints(core.app) if e.path.startswith(("/api/modalities", "/api/users"))
        ]
        assert len(admin_routes) >= 6
        for endpoint in admin_routes:
            answer = client.request(endpoint.method, concrete(endpoint.path), json={})
            assert answer.status_code == 403, f"{role} {endpoint.method} {endpoint.path}"
