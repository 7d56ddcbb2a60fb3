"""The forwarding REST API through a running core (SQLite and PostgreSQL): destinations and
rules are created, listed (secrets never shown), updated and deleted; a destination's test
C-ECHOes a real peer (and says what went wrong with a closed port); a rule applied to the
stored studies queues its objects once; the tasks are listed by status and destination,
paged, with the hospital's offset; a dead task shows its last error and is re-queued, one
or all of a destination's; the queue shows counts and ages. Bad input is a 422 refusal in
the caller's language, a taken name 409, an unknown id 404; no session 401, no admin 403;
without the service 503."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from core_server import auth
from core_server.archive import Origin
from core_server.jobs import Retry
from core_server.storage.forwarding import config, queue
from tests.conftest import RunningCore, free_port
from tests.dicom_data import encode, make_ct

EN = {"Accept-Language": "en"}


@pytest.fixture
def echo_peer() -> Iterator[int]:
    """A real Verification SCP (pynetdicom) on a free port: the destination a test reaches."""
    ae = AE(ae_title="PEER")
    ae.add_supported_context(Verification)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False)
    try:
        yield port
    finally:
        server.shutdown()


def _refused(answer: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    detail: dict[str, object] = answer.json()["detail"]
    assert detail["code"] == code and detail["message"], detail
    return detail


def _make_dead(core: RunningCore, destination_id: int, error: str) -> int:
    """Claim the next task of the destination and record its last try as failed for good."""
    engine = core.core.engine
    (task,) = queue.claim_batch(
        engine, "test", timedelta(minutes=5), 1, destinations=[destination_id]
    )
    final = Retry(first=1, longest=1, max_attempts=1)
    assert queue.record(engine, task, "test", final, status="failed", error=error) == "dead"
    return task.id


def _bad_input(client: httpx.Client, peer: int) -> None:
    good = {"name": "x", "kind": "dicom", "ae_title": "PEER", "host": "127.0.0.1", "port": peer}
    cases = [
        ({**good, "port": "104"}, "storage.forwarding.bad_field"),
        ({**good, "enabled": 1}, "storage.forwarding.bad_field"),
        ({**good, "colour": "red"}, "storage.forwarding.bad_field"),
        ({**good, "port": 70000}, "storage.forwarding.bad_port"),
        ({**good, "ae_title": "A_TITLE_MUCH_TOO_LONG"}, "storage.forwarding.too_long"),
        ({**good, "ae_title": ""}, "storage.forwarding.bad_ae_title"),
        ({**good, "kind": "ftp"}, "storage.forwarding.bad_kind"),
        ({**good, "name": ""}, "storage.forwarding.bad_name"),
        ({"kind": "dicom"}, "storage.forwarding.bad_body"),
        ({"name": "s", "kind": "stow", "url": "ftp://x"}, "storage.forwarding.bad_url"),
        ({"name": "s", "kind": "stow", "url": "https://x", "auth": "x"},
         "storage.forwarding.bad_auth"),
        ({"name": "s", "kind": "stow", "url": "https://x", "commitment": True},
         "storage.forwarding.stow_no_commitment"),
    ]  # fmt: skip
    for body, code in cases:
        _refused(client.post("/api/storage/forwarding/destinations", json=body), 422, code)
    for raw in ("not json", "[1, 2]"):
        answer = client.post(
            "/api/storage/forwarding/destinations",
            content=raw,
            headers={"Content-Type": "application/json"},
        )
        _refused(answer, 422, "storage.forwarding.bad_body")
    rule = {"name": "r", "destination_id": 1, "study_description": "x" * 200}
    _refused(
        client.post("/api/storage/forwarding/rules", json=rule), 422, "storage.forwarding.too_long"
    )
    tasks = "/api/storage/forwarding/tasks"
    _refused(client.get(tasks, params={"status": "lost"}), 422, "storage.forwarding.bad_status")
    _refused(client.get(tasks, params={"limit": 0}), 422, "storage.forwarding.bad_page")
    _refused(client.get(tasks, params={"offset": 20000}), 422, "storage.forwarding.bad_page")


def _unknown_ids(client: httpx.Client) -> None:
    base = "/api/storage/forwarding"
    for method, path in [
        ("GET", "/destinations/999"),
        ("PUT", "/destinations/999"),
        ("DELETE", "/destinations/999"),
        ("POST", "/destinations/999/test"),
        ("POST", "/destinations/999/requeue-dead"),
        ("GET", "/rules/999"),
        ("PUT", "/rules/999"),
        ("DELETE", "/rules/999"),
        ("POST", "/rules/999/apply"),
        ("POST", "/tasks/999/requeue"),
        ("GET", "/tasks?destination_id=999"),
    ]:
        body: dict[str, object] | None = {} if method == "PUT" else None
        assert client.request(method, base + path, json=body).status_code == 404, path
    rule = {"name": "r", "destination_id": 999}
    _refused(client.post(f"{base}/rules", json=rule), 404, "storage.forwarding.no_destination")


def _destinations(client: httpx.Client, core: RunningCore, peer: int) -> tuple[int, int]:
    base = "/api/storage/forwarding/destinations"
    # Disabled: the worker leaves its tasks alone, so the test sees them as it made them.
    dicom = {"name": "二号PACS", "kind": "dicom", "ae_title": "PEER", "host": "127.0.0.1",
             "port": peer, "enabled": False}  # fmt: skip
    made = client.post(base, json=dicom)
    assert made.status_code == 201, made.text
    dicom_id = made.json()["id"]
    stow = {"name": "区域平台", "kind": "stow", "url": "https://cloud.example/studies",
            "auth": "bearer", "token": "s3cret-token", "enabled": False}  # fmt: skip
    shown = client.post(base, json=stow).json()
    assert shown["token"] is True and shown["password"] is False
    listing = client.get(base)
    assert "s3cret-token" not in listing.text
    assert [d["name"] for d in listing.json()] == sorted(["二号PACS", "区域平台"])
    taken = _refused(
        client.post(base, json=dicom, headers=EN), 409, "storage.forwarding.name_taken"
    )
    assert taken["message"] == "The name 二号PACS is taken"
    # What the listing shows, sent back with one change, keeps the stored secret.
    again = client.put(f"{base}/{shown['id']}", json={**shown, "url": "https://cloud.example/s"})
    assert again.status_code == 200 and again.json()["url"] == "https://cloud.example/s"
    assert config.destination(core.core.engine, shown["id"]).token == "s3cret-token"
    assert client.put(f"{base}/{dicom_id}", json={"name": "区域平台"}).status_code == 409

    answered = client.post(f"{base}/{dicom_id}/test")
    assert answered.status_code == 200 and answered.json() == {
        "id": dicom_id,
        "ok": True,
        "error": None,
    }
    closed = {**dicom, "name": "closed", "port": free_port()}
    closed_id = client.post(base, json=closed).json()["id"]
    silent = client.post(f"{base}/{closed_id}/test").json()
    assert silent["ok"] is False and silent["error"]
    assert client.delete(f"{base}/{closed_id}").status_code == 204
    return dicom_id, shown["id"]


def _store(core: RunningCore, modality: str, count: int) -> list[str]:
    study, series = generate_uid(), generate_uid()
    return [
        core.core.archive.store_instance(
            encode(
                make_ct(study_uid=study, series_uid=series, instance_number=n, modality=modality)
            ),
            Origin("dimse", "CT01"),
        ).sop_instance_uid
        for n in range(1, count + 1)
    ]


def _rules_and_tasks(client: httpx.Client, core: RunningCore, dicom_id: int) -> None:
    base = "/api/storage/forwarding"
    ct = _store(core, "CT", 3)
    _store(core, "MR", 1)
    body = {"name": "CT 到二号PACS", "destination_id": dicom_id, "modality": "CT"}
    made = client.post(f"{base}/rules", json=body)
    assert made.status_code == 201, made.text
    rule = made.json()
    assert rule["on_new"] is True and client.get(f"{base}/rules").json() == [rule]
    changed = client.put(f"{base}/rules/{rule['id']}", json={"on_changed": False})
    assert changed.json()["on_changed"] is False and changed.json()["modality"] == "CT"
    applied = client.post(f"{base}/rules/{rule['id']}/apply")
    assert applied.status_code == 200 and applied.json() == {"id": rule["id"], "queued": 3}
    assert client.post(f"{base}/rules/{rule['id']}/apply").json()["queued"] == 0  # once

    listed = client.get(f"{base}/tasks", params={"status": "pending", "destination_id": dicom_id})
    answer = listed.json()
    assert answer["total"] == 3 and {t["sop_instance_uid"] for t in answer["tasks"]} == set(ct)
    task = answer["tasks"][0]
    assert task["destination"] == "二号PACS" and task["created_at"].endswith("+08:00")
    first = client.get(f"{base}/tasks", params={"limit": 2}).json()
    rest = client.get(f"{base}/tasks", params={"limit": 2, "offset": 2}).json()
    assert len(first["tasks"]) == 2 and len(rest["tasks"]) == 1 and first["total"] == 3
    assert {t["id"] for t in first["tasks"] + rest["tasks"]} == {t["id"] for t in answer["tasks"]}

    dead = _make_dead(core, dicom_id, "C-STORE answered 0xA700 (out of resources)")
    shown = client.get(f"{base}/tasks", params={"status": "dead"}).json()["tasks"]
    assert [(t["id"], t["last_error"]) for t in shown] == [
        (dead, "C-STORE answered 0xA700 (out of resources)")
    ]
    sizes = {d["destination_id"]: d for d in client.get(f"{base}/queue").json()["destinations"]}
    assert sizes[dicom_id]["name"] == "二号PACS"
    assert sizes[dicom_id]["statuses"]["pending"]["count"] == 2
    assert sizes[dicom_id]["statuses"]["pending"]["oldest_age_seconds"] >= 0
    assert sizes[dicom_id]["statuses"]["dead"] == {"count": 1, "oldest_age_seconds": None}
    assert client.post(f"{base}/tasks/{dead}/requeue").status_code == 204
    again = client.get(f"{base}/tasks", params={"status": "pending"}).json()
    assert again["total"] == 3 and all(t["attempts"] == 0 for t in again["tasks"])

    for _ in range(2):
        _make_dead(core, dicom_id, "refused")
    requeued = client.post(f"{base}/destinations/{dicom_id}/requeue-dead")
    assert requeued.json() == {"requeued": 2}
    in_use = client.delete(f"{base}/destinations/{dicom_id}")
    _refused(in_use, 409, "storage.forwarding.destination_in_use")
    assert client.delete(f"{base}/rules/{rule['id']}").status_code == 204
    assert client.delete(f"{base}/destinations/{dicom_id}").status_code == 204  # tasks too
    assert client.get(f"{base}/tasks").json()["total"] == 0


def test_forwarding_rest(core_on: RunningCore, echo_peer: int) -> None:
    with core_on.api() as client:
        _bad_input(client, echo_peer)
        _unknown_ids(client)
        dicom_id, _ = _destinations(client, core_on, echo_peer)
        _rules_and_tasks(client, core_on, dicom_id)
        page = client.get("/admin/storage/forwarding")
        assert page.status_code == 200 and "forwarding.js" in page.text
        assert client.get("/static/storage/forwarding.js").status_code == 200

        lifecycle = core_on.app.state.ctx.lifecycle
        service, lifecycle.forwarding = lifecycle.forwarding, None
        try:
            stopped = client.post("/api/storage/forwarding/destinations/1/test")
            _refused(stopped, 503, "storage.forwarding.not_running")
        finally:
            lifecycle.forwarding = service

    assert httpx.get(f"{core_on.base_url}/api/storage/forwarding/queue").status_code == 401
    auth.create_user(core_on.core.engine, "tech-fw", "password-123", "technician")
    with core_on.api("tech-fw", "password-123") as tech:
        assert tech.get("/api/storage/forwarding/destinations").status_code == 403
