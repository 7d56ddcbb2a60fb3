"""The audit trail over HTTP: what gets recorded, the administrator's filters, and that no
route can change or remove an event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core_server import auth
from tests.conftest import RunningCore


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    """One core for this module's tests; each reads the events since it started."""
    running = RunningCore(tmp_path_factory.mktemp("audit") / "data").start()
    try:
        yield running
    finally:
        running.stop()


def _events(client: httpx.Client, **params: str | int) -> list[dict]:
    answer = client.get("/api/audit", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def test_sign_ins_changes_and_their_authors_are_recorded(core: RunningCore) -> None:
    start = datetime.now(UTC).isoformat()
    url = core.base_url + "/api/auth/token"
    httpx.post(url, data={"username": "admin", "password": "wrong-password"})
    httpx.post(url, data={"username": "nobody", "password": "wrong-password"})
    with core.api() as admin:
        admin.post(
            "/api/users", json={"username": "reg1", "password": "first-pass-1", "role": "registrar"}
        ).raise_for_status()
        admin.patch("/api/users/reg1", json={"display_name": "王登记"}).raise_for_status()
        admin.post("/api/users/reg1/password", json={"password": "temp-pass-2"})
        ct = {"ae_title": "CT01", "host": "10.1.2.3", "port": 104}
        admin.post("/api/modalities", json=ct).raise_for_status()
        admin.patch("/api/modalities/CT01", json={"port": 11112}).raise_for_status()
        admin.delete("/api/modalities/CT01").raise_for_status()
        with core.api("reg1", "temp-pass-2") as registrar:
            change = {"current_password": "temp-pass-2", "new_password": "own-pass-33"}
            registrar.post("/api/auth/password", json=change).raise_for_status()
            registrar.post("/api/auth/logout").raise_for_status()

        events = list(reversed(_events(admin, since=start)))  # oldest first
        seen = [(e["username"], e["action"], e["target"]) for e in events]
        assert seen == [
            ("admin", "login.failed", ""),
            ("nobody", "login.failed", ""),
            ("admin", "login.ok", ""),
            ("admin", "user.create", "user:reg1"),
            ("admin", "user.change", "user:reg1"),
            ("admin", "user.unlock", "user:reg1"),
            ("admin", "modality.create", "modality:CT01"),
            ("admin", "modality.change", "modality:CT01"),
            ("admin", "modality.delete", "modality:CT01"),
            ("reg1", "login.ok", ""),
            ("reg1", "password.change", "user:reg1"),
            ("reg1", "logout", ""),
        ]
        assert all(e["address"] == "127.0.0.1" for e in events)
        assert events[0]["detail"] == {"via": "token-api", "reason": "password"}
        assert events[4]["detail"] == {"display_name": "王登记"}
        assert events[7]["detail"] == {"port": 11112}
        assert "temp-pass-2" not in str(events) and "first-pass-1" not in str(events)


def test_filters_and_paging(core: RunningCore) -> None:
    start = datetime.now(UTC).isoformat()
    engine = core.core.engine
    for n in range(5):
        auth.record_audit(engine, username="doc1", action="study.view", target=f"study:1.2.{n}")
    with core.api() as admin:
        assert len(_events(admin, username="doc1")) == 5
        assert [e["target"] for e in _events(admin, target="study:1.2.3")] == ["study:1.2.3"]
        assert {e["action"] for e in _events(admin, action="login.", since=start)} == {"login.ok"}
        page = admin.get("/api/audit", params={"username": "doc1", "limit": 2, "offset": 4}).json()
        assert page["total"] == 5 and [e["target"] for e in page["events"]] == ["study:1.2.0"]
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert _events(admin, since=later) == []
        assert len(_events(admin, until=later, username="doc1")) == 5
        assert len(_events(admin, since=datetime.now(UTC).date().isoformat())) >= 6
        assert admin.get("/api/audit", params={"since": "yesterday"}).status_code == 422


def test_only_administrators_read_it_and_nobody_changes_it(core: RunningCore) -> None:
    auth.create_user(core.core.engine, "doc2", "doctor-pass-1", "reviewing_doctor")
    with core.api("doc2", "doctor-pass-1") as doctor:
        assert doctor.get("/api/audit").status_code == 403
    with core.api() as admin:
        before = admin.get("/api/audit").json()
        first = before["events"][-1]["id"]
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert admin.request(method, "/api/audit", json={}).status_code == 405, method
            answer = admin.request(method, f"/api/audit/{first}", json={})
            assert answer.status_code in (404, 405), method
        after = admin.get("/api/audit").json()
        assert after["events"][-1] == before["events"][-1]
        assert after["total"] == before["total"]


def test_the_audit_page_offers_every_recorded_action(core: RunningCore) -> None:
    auth.record_audit(core.core.engine, username="reg1", action="ris.patient.register")
    auth.record_audit(core.core.engine, username="doc9", action="dicomweb.study_viewed")
    with core.api() as admin:
        page = admin.get("/admin/audit").text
    assert '<option value="ris.patient.register">' in page  # labelled by its area, or as is
    assert '<option value="dicomweb.study_viewed">查看影像（DICOMweb）</option>' in page
    assert '<option value="login.">登录（全部）</option>' in page
