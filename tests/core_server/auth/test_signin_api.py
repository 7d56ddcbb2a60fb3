"""The sign-in API over HTTP: an administrator lists and revokes a user's sessions (the next
request is 401 at once), sign-out everywhere, TOTP enrolment and the token grant with a code,
the per-address lock answered 429."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pyotp
import pytest

from tests.conftest import RunningCore


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path_factory.mktemp("core"), signin_lock_failures=3).start()
    try:
        yield running
    finally:
        running.stop()


def _token(core: RunningCore, username: str, password: str, **more: str) -> httpx.Response:
    return httpx.post(
        core.base_url + "/api/auth/token",
        data={"username": username, "password": password, **more},
        headers={"User-Agent": "ward-pc/1.0"},
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _add_user(core: RunningCore, username: str, role: str = "technician") -> None:
    with core.api() as admin:
        admin.post(
            "/api/users", json={"username": username, "password": "Secret-pass-1", "role": role}
        ).raise_for_status()


def test_admin_revokes_a_session_and_its_next_request_is_401(core: RunningCore) -> None:
    _add_user(core, "chen")
    one = _token(core, "chen", "Secret-pass-1").json()["access_token"]
    two = _token(core, "chen", "Secret-pass-1").json()["access_token"]
    with core.api() as admin:
        listed = admin.get("/api/auth/users/chen/sessions").json()
        assert len(listed) == 2
        assert {s["user_agent"] for s in listed} == {"ward-pc/1.0"}
        assert {s["address"] for s in listed} == {"127.0.0.1"}
        assert all(s["created_at"].endswith("+08:00") for s in listed)
        mine = httpx.get(core.base_url + "/api/auth/sessions", headers=_bearer(one)).json()
        target = next(s["id"] for s in mine if s["current"])
        assert admin.delete(f"/api/auth/users/chen/sessions/{target}").status_code == 204
        assert admin.delete(f"/api/auth/users/chen/sessions/{target}").status_code == 404
        assert httpx.get(core.base_url + "/api/auth/me", headers=_bearer(one)).status_code == 401
        assert httpx.get(core.base_url + "/api/auth/me", headers=_bearer(two)).status_code == 200
        assert admin.delete("/api/auth/users/chen/sessions").status_code == 204
        assert httpx.get(core.base_url + "/api/auth/me", headers=_bearer(two)).status_code == 401
        events = admin.get("/api/audit", params={"action": "session."}).text
        assert "session.revoke_all" in events
    # Only administrators see others' sessions.
    three = _token(core, "chen", "Secret-pass-1").json()["access_token"]
    answer = httpx.get(core.base_url + "/api/auth/users/admin/sessions", headers=_bearer(three))
    assert answer.status_code == 403


def test_sign_out_everywhere(core: RunningCore) -> None:
    _add_user(core, "wu")
    tokens = [_token(core, "wu", "Secret-pass-1").json()["access_token"] for _ in range(3)]
    answer = httpx.post(core.base_url + "/api/auth/sessions/revoke-all", headers=_bearer(tokens[0]))
    assert answer.status_code == 204
    for token in tokens:
        assert httpx.get(core.base_url + "/api/auth/me", headers=_bearer(token)).status_code == 401


def test_totp_enrolment_and_the_token_grant_with_a_code(core: RunningCore) -> None:
    _add_user(core, "he", "admin")
    token = _token(core, "he", "Secret-pass-1").json()["access_token"]
    with httpx.Client(base_url=core.base_url, headers=_bearer(token)) as client:
        assert client.post("/api/auth/totp", json={"password": "wrong"}).status_code == 400
        begun = client.post("/api/auth/totp", json={"password": "Secret-pass-1"}).json()
        assert begun["uri"].startswith("otpauth://totp/") and "<svg" in begun["qr_svg"]
        totp = pyotp.TOTP(begun["secret"])
        confirmed = client.post("/api/auth/totp/confirm", json={"code": totp.now()})
        assert confirmed.status_code == 200 and len(confirmed.json()["recovery_codes"]) == 10
    recovery = confirmed.json()["recovery_codes"]
    asked = _token(core, "he", "Secret-pass-1")
    assert asked.status_code == 401 and asked.json()["detail"]["code"] == "auth.totp.required"
    wrong = _token(core, "he", "Secret-pass-1", totp="000000")
    assert wrong.status_code == 401 and wrong.json()["detail"]["code"] == "auth.totp.wrong"
    assert _token(core, "he", "Secret-pass-1", totp=recovery[0]).status_code == 200
    with core.api() as admin:  # the phone is lost: an administrator switches the factor off
        assert admin.delete("/api/auth/users/he/totp").status_code == 204
    assert _token(core, "he", "Secret-pass-1").status_code == 200


def test_the_lock_answers_429_for_that_address(core: RunningCore) -> None:
    _add_user(core, "lin")
    for _ in range(3):
        assert _token(core, "lin", "guess").status_code == 401
    locked = _token(core, "lin", "Secret-pass-1")
    assert locked.status_code == 429
    assert locked.json()["detail"]["code"] == "auth.signin.locked"
    assert int(locked.headers["Retry-After"]) > 60
    with core.api() as admin:
        assert admin.post("/api/auth/users/lin/unlock").status_code == 204
        assert admin.post("/api/auth/users/nobody/unlock").status_code == 404
    assert _token(core, "lin", "Secret-pass-1").status_code == 200
