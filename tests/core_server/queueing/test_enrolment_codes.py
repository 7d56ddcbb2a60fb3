"""Enrolment by code against a running core: the device kit's flow (code, admin confirmation,
key and CA received once, the key works), pending, single use, expiry, the anonymous limits,
a wrong secret; and the migration against the table definition."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete

from core_server import clock, db
from core_server.queueing import enrolment_codes
from device_kit import enrol_code, enrolment
from tests.conftest import RunningCore

PATH = "/api/queueing/enrolment-codes"
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    data = tmp_path_factory.mktemp("core")
    (data / "ca.pem").write_text(CA)
    running = RunningCore(data, tls_ca=data / "ca.pem").start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def empty_table(core: RunningCore) -> None:
    with db.write(core.core.engine) as conn:
        conn.execute(delete(enrolment_codes.codes))


def ask(core: RunningCore, kind: str = "screen", **body: str) -> httpx.Response:
    return httpx.post(core.base_url + PATH, json={"kind": kind, "hostname": "qd-1", **body})


def test_device_enrols_by_code(core: RunningCore, tmp_path: Path) -> None:
    admin = core.api()
    admin.post("/api/queueing/rooms", json={"code": "CT1", "name": "CT 1"}).raise_for_status()
    shown: list[enrol_code.Code] = []
    polled = threading.Event()
    result: list[enrolment.Enrolment] = []

    def device() -> None:
        result.append(
            enrol_code.by_code(
                core.base_url,
                "caller-terminal",
                shown.append,
                name="ct1-caller",
                interval=0.05,
                alive=polled.set,
            )
        )

    thread = threading.Thread(target=device)
    thread.start()
    assert polled.wait(30)
    [code] = shown
    assert len(code.code) == 7 and code.code[3] == "-"
    assert code.qr == f"{core.base_url}/queueing/admin?enrol={code.code}"
    [waiting] = admin.get(PATH).json()
    assert (waiting["code"], waiting["kind"], waiting["name"]) == (
        code.code,
        "caller",
        "ct1-caller",
    )
    assert waiting["hostname"] and waiting["expires_at"].endswith("+08:00")

    confirmed = admin.post(
        PATH + "/confirm",
        json={"code": code.code.lower().replace("-", ""), "name": "ct1-caller", "room": "CT1"},
    )
    assert confirmed.status_code == 201, confirmed.text
    assert (confirmed.json()["kind"], confirmed.json()["room"]) == ("caller", "CT1")
    thread.join(30)
    [record] = result
    assert (record.device_name, record.ca_pem, record.core_url) == ("ct1-caller", CA, core.base_url)
    assert admin.get(PATH).json() == []
    # The key received is the device's: it asks about itself with it.
    enrolment.save(tmp_path / "enrolment.json", record)
    stored = enrolment.load(tmp_path / "enrolment.json", "caller-terminal")
    me = httpx.get(
        core.base_url + "/api/queueing/devices/me",
        headers={"Authorization": f"Bearer {stored.device_key}"},
    )
    assert (me.status_code, me.json()["name"], me.json()["room"]) == (200, "ct1-caller", "CT1")


def test_pending_then_single_use(core: RunningCore) -> None:
    asked = ask(core, "kiosk").json()
    poll = core.base_url + asked["poll"]
    assert httpx.get(poll).json() == {
        "state": "pending",
        "code": asked["code"],
        "expires_at": asked["expires_at"],
    }
    core.api().post(PATH + "/confirm", json={"code": asked["code"], "name": "kiosk-1"})
    first = httpx.get(poll)
    assert first.json()["state"] == "enrolled" and first.json()["key"].startswith("pacs_")
    again = httpx.get(poll)
    assert again.status_code == 404 and again.json()["detail"]["code"] == "not_found"
    # ...and the code cannot be confirmed a second time.
    twice = core.api().post(PATH + "/confirm", json={"code": asked["code"], "name": "kiosk-2"})
    assert twice.status_code == 404


def test_wrong_secret_is_404(core: RunningCore) -> None:
    ask(core)
    answer = httpx.get(core.base_url + PATH + "/not-the-secret")
    assert answer.status_code == 404 and answer.json()["detail"]["message"]


def test_code_expires(core: RunningCore, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = ask(core, "printer").json()
    later = clock.now() + timedelta(minutes=16)
    monkeypatch.setattr(clock, "now", lambda: later)
    answer = httpx.get(core.base_url + asked["poll"])
    assert answer.status_code == 410 and asked["code"] in answer.json()["detail"]["message"]
    late = core.api().post(PATH + "/confirm", json={"code": asked["code"], "name": "printer-1"})
    assert late.status_code == 404
    assert core.api().get(PATH).json() == []


def test_anonymous_requests_are_bounded(core: RunningCore, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(enrolment_codes.PER_CLIENT):
        assert ask(core).status_code == 201
    refused = ask(core)
    assert refused.status_code == 429
    assert refused.json()["detail"]["code"] == "enrolment"
    # The whole table is bounded too (other addresses), and nobody is locked out: the
    # administrator's confirmation of a code already shown still works.
    monkeypatch.setattr(enrolment_codes, "PER_CLIENT", 1000)
    monkeypatch.setattr(enrolment_codes, "MAX_LIVE", 4)
    assert ask(core).status_code == 201
    assert ask(core).status_code == 429
    code = core.api().get(PATH).json()[0]["code"]
    confirmed = core.api().post(PATH + "/confirm", json={"code": code, "name": "screen-x"})
    assert confirmed.status_code == 422  # a screen needs its screen: the refusal, not a 500
    assert core.api().get(PATH).json()[0]["code"] == code  # still pending for a correct try


def test_unknown_kind_and_admin_only(core: RunningCore) -> None:
    assert ask(core, "toaster").status_code == 422
    assert httpx.get(core.base_url + PATH).status_code == 401
    assert (
        httpx.post(
            core.base_url + PATH + "/confirm", json={"code": "AAAAAA", "name": "x"}
        ).status_code
        == 401
    )


def test_migration_matches_the_table(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                d
                for d in compare_metadata(context, db.metadata)
                if "'queueing_enrolment_codes'" in repr(d)
            ]
    finally:
        engine.dispose()
    assert differences == []
