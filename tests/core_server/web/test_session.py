"""Session cookies: the same token as a cookie, CSRF refusal, forced password change, lock-out,
idle limit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client
from sqlalchemy import select, update

from core_server import auth, db
from core_server.auth import signin
from core_server.auth.tables import audit_events, tokens
from tests.conftest import ADMIN_PASSWORD, RunningCore


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    """One core for this module's tests: each uses its own users (the admin's sessions are
    only ever added to, never locked or changed). The per-address lock is set out of reach:
    these tests are about the per-account backoff, which every client here (one address)
    meets; the lock has its own tests (tests/core_server/auth/test_signin_*.py)."""
    running = RunningCore(
        tmp_path_factory.mktemp("session") / "data", signin_lock_failures=1000
    ).start()
    try:
        yield running
    finally:
        running.stop()


def _cookie_client(core: RunningCore, token: str, origin: bool = True) -> httpx.Client:
    host = core.base_url.removeprefix("http://")
    headers = {"Origin": core.base_url} if origin else {}
    client = httpx.Client(base_url=core.base_url, headers=headers)
    client.cookies.set("session", token, domain=host.split(":")[0])
    return client


def test_the_token_works_as_a_session_cookie(core: RunningCore) -> None:
    with _cookie_client(core, core.token()) as client:
        assert client.get("/api/auth/me").json()["username"] == "admin"
        assert client.get("/api/modalities").status_code == 200
    with _cookie_client(core, "not-a-token") as client:
        assert client.get("/api/auth/me").status_code == 401


def test_cookie_requests_that_change_state_must_come_from_this_site(core: RunningCore) -> None:
    ct = {"ae_title": "CT01", "host": "10.1.2.3", "port": 104}
    token = core.token()
    with _cookie_client(core, token, origin=False) as client:
        assert client.post("/api/modalities", json=ct).status_code == 403
        evil = client.post("/api/modalities", json=ct, headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        referer = client.post(
            "/api/modalities", json=ct, headers={"Referer": "http://evil.example/x"}
        )
        assert referer.status_code == 403
        assert client.get("/api/modalities").json() == []  # nothing was added
        same = client.post("/api/modalities", json=ct, headers={"Referer": core.base_url + "/x"})
        assert same.status_code == 201
        # X-Forwarded-Host is believed only from a configured proxy (test_security.py): from
        # anyone else it would let a page of any host pass the check.
        forged = client.post(
            "/api/modalities",
            json={**ct, "ae_title": "CT03"},
            headers={"Origin": "https://evil.example", "X-Forwarded-Host": "evil.example"},
        )
        assert forged.status_code == 403
        assert forged.json()["detail"]["code"] == "web.auth.cross_site"
    # A bearer token is not a cookie: no other site can make a browser send it.
    with core.api() as client:
        ok = client.post("/api/modalities", json={**ct, "ae_title": "CT02"})
        assert ok.status_code == 201


def test_cookie_logout_revokes_and_clears(core: RunningCore) -> None:
    with _cookie_client(core, core.token()) as client:
        answer = client.post("/api/auth/logout")
        assert answer.status_code == 204
        assert (
            'session=""' in answer.headers["set-cookie"]
            or "Max-Age=0" in answer.headers["set-cookie"]
        )
        assert client.get("/api/auth/me").status_code == 401


def test_a_cookie_session_must_change_the_password_first(core: RunningCore) -> None:
    with core.api() as admin:
        admin.post(
            "/api/users",
            json={"username": "tech1", "password": "temporary-1", "role": "technician"},
        ).raise_for_status()
    answer = httpx.post(
        core.base_url + "/api/auth/token", data={"username": "tech1", "password": "temporary-1"}
    )
    assert answer.json()["must_change_password"] is True
    with _cookie_client(core, answer.json()["access_token"]) as client:
        refused = client.get("/api/archive/statistics")
        assert refused.status_code == 403
        assert refused.json()["detail"]["code"] == "web.auth.password_change_required"
        assert client.get("/api/auth/me").json()["must_change_password"] is True
        same = {"current_password": "temporary-1", "new_password": "temporary-1"}
        assert client.post("/api/auth/password", json=same).status_code == 400
        wrong = {"current_password": "nope-nope-1", "new_password": "permanent-2"}
        assert client.post("/api/auth/password", json=wrong).status_code == 400
        change = {"current_password": "temporary-1", "new_password": "permanent-2"}
        assert client.post("/api/auth/password", json=change).status_code == 204
        assert client.get("/api/archive/statistics").status_code == 200


def _age_failures(core: RunningCore, username: str, seconds: float) -> None:
    """Make the account's failed sign-ins look ``seconds`` older (instead of waiting)."""
    with db.write(core.core.engine) as conn:
        rows = conn.execute(
            select(audit_events.c.id, audit_events.c.at).where(audit_events.c.username == username)
        ).all()
        for row in rows:
            conn.execute(
                update(audit_events)
                .where(audit_events.c.id == row.id)
                .values(at=row.at - timedelta(seconds=seconds))
            )


def test_repeated_failures_slow_the_account_down_and_never_lock_it(core: RunningCore) -> None:
    """Anyone may send wrong passwords for any user name: that slows the account (429 with
    Retry-After, the password not even checked) but the right password still gets in once
    the wait is over, and an administrator's reset lifts the wait at once."""
    url = core.base_url + "/api/auth/token"
    auth.create_user(core.core.engine, "reg7", "registrar-pass-7", "registrar")
    for _ in range(signin.ACCOUNT_FREE_FAILURES):
        bad = httpx.post(url, data={"username": "reg7", "password": "wrong-password"})
        assert bad.status_code == 401
        assert bad.json()["detail"]["code"] == "auth.signin.failed"
    slowed = httpx.post(url, data={"username": "reg7", "password": "registrar-pass-7"})
    assert slowed.status_code == 429
    assert slowed.json()["detail"]["code"] == "auth.signin.throttled"
    assert 1 <= int(slowed.headers["Retry-After"]) <= signin.ACCOUNT_FIRST_DELAY
    _age_failures(core, "reg7", signin.ACCOUNT_FIRST_DELAY)
    ok = httpx.post(url, data={"username": "reg7", "password": "registrar-pass-7"})
    assert ok.status_code == 200  # slowed, not locked
    # A success starts the count afresh; a reset lifts a wait at once.
    for _ in range(signin.ACCOUNT_FREE_FAILURES):
        httpx.post(url, data={"username": "reg7", "password": "wrong-password"})
    assert httpx.post(url, data={"username": "reg7", "password": "x"}).status_code == 429
    with core.api() as admin:  # another account is not affected
        answer = admin.post("/api/users/reg7/password", json={"password": "fresh-start-1"})
        assert answer.status_code == 204
    ok = httpx.post(url, data={"username": "reg7", "password": "fresh-start-1"})
    assert ok.status_code == 200 and ok.json()["must_change_password"] is True


def test_the_wait_grows_with_each_failure_up_to_a_minute(core: RunningCore) -> None:
    engine = core.core.engine
    auth.create_user(engine, "reg8", "registrar-pass-8", "registrar")
    waits = []
    for _ in range(signin.ACCOUNT_FREE_FAILURES + 6):
        _age_failures(core, "reg8", signin.ACCOUNT_MAX_DELAY)  # each try after the wait
        answer = httpx.post(
            core.base_url + "/api/auth/token", data={"username": "reg8", "password": "wrong-1"}
        )
        assert answer.status_code == 401
        waits.append(round(signin.account_wait(engine, "reg8")))
    free = signin.ACCOUNT_FREE_FAILURES
    assert waits[: free - 1] == [0] * (free - 1)
    assert waits[free - 1 :] == [5, 10, 20, 40, 60, 60, 60]


def test_a_password_change_ends_the_users_other_sessions(core: RunningCore) -> None:
    engine = core.core.engine
    auth.create_user(engine, "doc3", "doctor-pass-3", "reporting_doctor")
    elsewhere = core.token("doc3", "doctor-pass-3")
    with _cookie_client(core, core.token("doc3", "doctor-pass-3")) as here:
        change = {"current_password": "doctor-pass-3", "new_password": "doctor-pass-4"}
        assert here.post("/api/auth/password", json=change).status_code == 204
        assert here.get("/api/auth/me").status_code == 200  # this session goes on
    other = httpx.get(
        core.base_url + "/api/auth/me", headers={"Authorization": f"Bearer {elsewhere}"}
    )
    assert other.status_code == 401


def test_websocket_takes_the_cookie_only_from_this_site(core: RunningCore) -> None:
    url = core.base_url.replace("http://", "ws://") + "/api/ws"
    cookie = {"Cookie": f"session={core.token()}"}
    with websockets.sync.client.connect(
        url, additional_headers={**cookie, "Origin": core.base_url}, open_timeout=10
    ) as socket:
        hello = json.loads(socket.recv(timeout=10))
        assert hello["type"] == "hello" and hello["user"] == "admin"
    for origin in ("http://evil.example", None):
        headers = {**cookie, **({"Origin": origin} if origin else {})}
        try:
            with websockets.sync.client.connect(url, additional_headers=headers, open_timeout=10):
                raise AssertionError(f"accepted a cookie from origin {origin}")
        except websockets.exceptions.InvalidStatus as refused:
            assert refused.response.status_code == 403


def _age_tokens(core: RunningCore, minutes: int) -> None:
    """Make every token look unused for ``minutes`` (instead of waiting that long)."""
    with db.write(core.core.engine) as conn:
        conn.execute(
            update(tokens).values(last_used_at=datetime.now(UTC) - timedelta(minutes=minutes))
        )


def test_a_browser_session_ends_when_left_idle(core: RunningCore) -> None:
    idle = core.settings.session_idle_minutes
    assert idle == 30
    program = core.token()  # a bearer token has no idle limit
    with httpx.Client(base_url=core.base_url, headers={"Origin": core.base_url}) as browser:
        browser.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
        _age_tokens(core, idle - 2)
        assert browser.get("/api/auth/me").status_code == 200  # still in time: used again
        _age_tokens(core, 2)
        assert browser.get("/api/auth/me").status_code == 200  # the use above restarted it
        _age_tokens(core, idle + 1)
        assert browser.get("/api/auth/me").status_code == 401
        assert browser.get("/studies").headers["location"] == "/login?next=%2Fstudies"
    answer = httpx.get(
        core.base_url + "/api/auth/me", headers={"Authorization": f"Bearer {program}"}
    )
    assert answer.status_code == 200
