"""Directory sign-in against a real OpenLDAP (slapd started by the test): the group decides
the role (first mapping wins), the Chinese name comes from displayName, a shadow user follows
the directory at each sign-in, local accounts stay as a fallback (also while the directory is
down), a directory that is down is a clear 503 that locks no one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core_server.auth import ldap
from core_server.settings import Settings
from tests.conftest import ADMIN_PASSWORD, RunningCore, free_port
from tests.core_server.auth import directory

pytestmark = pytest.mark.skipif(not directory.available(), reason="needs slapd (make apt)")


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[directory.Slapd]:
    server = directory.Slapd(tmp_path_factory.mktemp("slapd")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def core(slapd: directory.Slapd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path_factory.mktemp("core"), **directory.settings(slapd.url))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _config(url: str) -> ldap.DirectoryConfig:
    config = ldap.DirectoryConfig.from_settings(
        Settings(data_dir=Path("/nonexistent"), **directory.settings(url))  # type: ignore[arg-type]
    )
    assert config is not None
    return config


def test_the_directory_answers_name_and_role(slapd: directory.Slapd) -> None:
    found = ldap.authenticate(_config(slapd.url), "zhangwei", "Dir-pass-1")
    assert (found.display_name, found.role) == ("张伟", "reporting_doctor")
    assert found.dn == f"uid=zhangwei,{directory.PEOPLE}"
    with pytest.raises(ldap.NoRole):
        ldap.authenticate(_config(slapd.url), "nogroup", "Dir-pass-4")
    for name, password in (("zhangwei", "wrong"), ("zhangwei", ""), ("nobody", "x"), ("*", "x")):
        with pytest.raises(ldap.WrongPassword):
            ldap.authenticate(_config(slapd.url), name, password)


def test_first_mapping_wins(slapd: directory.Slapd) -> None:
    config = _config(slapd.url)
    assert [role for role, _ in config.group_roles][:3] == [
        "admin",
        "reporting_doctor",
        "reviewing_doctor",
    ]
    assert ldap.authenticate(config, "wangfang", "Dir-pass-3").role == "reporting_doctor"
    assert ldap.authenticate(config, "lina", "Dir-pass-2").role == "registrar"


def _token(core: RunningCore, username: str, password: str) -> httpx.Response:
    return httpx.post(
        core.base_url + "/api/auth/token", data={"username": username, "password": password}
    )


def test_a_directory_user_signs_in_with_a_shadow_user(core: RunningCore) -> None:
    answer = _token(core, "lina", "Dir-pass-2")
    assert answer.status_code == 200, answer.text
    me = httpx.get(
        core.base_url + "/api/auth/me",
        headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
    ).json()
    assert (me["username"], me["display_name"], me["role"], me["source"]) == (
        "lina",
        "李娜",
        "registrar",
        "ldap",
    )
    assert _token(core, "lina", "wrong").status_code == 401
    refused = _token(core, "nogroup", "Dir-pass-4")
    assert refused.status_code == 403
    assert refused.json()["detail"]["code"] == "auth.ldap.no_role"
    # The shadow has no local password: an administrator's temporary one cannot be set on it
    # to bypass the directory, and changing the own password is refused.
    with core.api("lina", "Dir-pass-2") as client:
        answer = client.post(
            "/api/auth/password",
            json={"current_password": "Dir-pass-2", "new_password": "Other-pass-9"},
        )
    assert answer.json()["detail"]["code"] == "auth.ldap.directory_user"


def test_a_deactivated_shadow_stays_out(core: RunningCore) -> None:
    assert _token(core, "zhangwei", "Dir-pass-1").status_code == 200
    with core.api() as admin:
        admin.patch("/api/users/zhangwei", json={"active": False}).raise_for_status()
    assert _token(core, "zhangwei", "Dir-pass-1").status_code == 401


def test_local_accounts_work_while_the_directory_is_down(tmp_path: Path) -> None:
    down = f"ldap://127.0.0.1:{free_port()}"  # nothing listens there
    core = RunningCore(tmp_path, **directory.settings(down)).start()
    try:
        assert _token(core, "admin", ADMIN_PASSWORD).status_code == 200  # break-glass
        for _ in range(8):  # more than any lock: the directory's absence counts for nobody
            answer = _token(core, "lina", "Dir-pass-2")
            assert answer.status_code == 503
            assert answer.json()["detail"]["code"] == "auth.ldap.down"
        with core.api() as admin:
            failed = admin.get("/api/audit", params={"action": "login.failed"}).json()
        assert not [e for e in failed.get("events", failed) if e.get("username") == "lina"]
    finally:
        core.stop()
