"""The rules' REST API through a running core (SQLite and PostgreSQL): a rule is created, its
dry run (saved and unsaved) counts the objects without changing anything, bad rules are 422
in the caller's language, the schedule is edited, "run now" makes and does the tasks, the
tasks listing counts them; without a session it is 401."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from pydicom.uid import generate_uid

from core_server.archive import Origin, copies
from tests.conftest import RunningCore
from tests.dicom_data import encode, make_ct


def _when_done(client: httpx.Client, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        listing: dict[str, Any] = client.get(
            "/api/storage/rules/tasks", params={"state": "done"}
        ).json()
        if listing["counts"]["done"] >= count or time.monotonic() > deadline:
            return listing
        time.sleep(0.1)


def test_rules_rest(core_on: RunningCore, tmp_path: Path) -> None:
    archive = core_on.core.archive
    study, series = generate_uid(), generate_uid()
    uids = [
        archive.store_instance(
            encode(make_ct(study_uid=study, series_uid=series, instance_number=n, modality="MR")),
            Origin("dimse", "MR01"),
        ).sop_instance_uid
        for n in range(1, 4)
    ]
    (tmp_path / "nas").mkdir()
    with core_on.api() as client:
        area = {"name": "nas", "kind": "filesystem", "location": str(tmp_path / "nas")}
        assert client.post("/api/storage/areas", json=area).status_code == 201
        body = {
            "name": "MR to the NAS",
            "action": "copy",
            "area": "nas",
            "conditions": {"modalities": ["MR"], "source_aes": ["MR01"]},
        }
        unsaved = client.post("/api/storage/rules/dry-run", json=body)
        assert unsaved.status_code == 200, unsaved.text
        assert (unsaved.json()["studies"], unsaved.json()["instances"]) == (1, 3)
        created = client.post("/api/storage/rules", json=body)
        assert created.status_code == 201, created.text
        rule = created.json()
        assert client.get("/api/storage/rules").json()[0]["name"] == "MR to the NAS"
        dry = client.post(f"/api/storage/rules/{rule['id']}/dry-run").json()
        assert dry["instances"] == 3 and dry["first"][0]["study_instance_uid"] == study
        assert copies.copies_of(archive.engine, uids[0]) == []  # nothing changed
        bad = client.post(
            "/api/storage/rules",
            json={**body, "action": "shred"},
            headers={"Accept-Language": "en"},
        )
        assert bad.status_code == 422 and bad.json()["detail"]["code"] == "storage.rules.action"
        assert client.get("/api/storage/rules/999").status_code == 404
        bad_time = client.put("/api/storage/rules/settings", json={"idle_start": "25:00"})
        assert bad_time.status_code == 422
        closed = {"idle_start": "03:00", "idle_end": "03:01", "max_objects_per_second": 50}
        settings = client.put("/api/storage/rules/settings", json=closed)
        assert settings.status_code == 200 and settings.json()["settings"]["idle_start"] == "03:00"
        ran = client.post("/api/storage/rules/run-now")
        assert ran.status_code == 200 and ran.json()["made"] == 3
        listing = _when_done(client, 3)  # the runner's thread, woken, does them
        assert listing["counts"]["done"] == 3 and len(listing["tasks"]) == 3
        assert all(copies.copies_of(archive.engine, u)[0].verified for u in uids)
        assert client.post("/api/storage/rules/tasks/999/requeue").status_code == 404
        assert client.post("/api/storage/rules/prefetch").json()["patients"] == 0
        assert client.delete(f"/api/storage/rules/{rule['id']}").status_code == 204
        assert client.get("/api/storage/rules").json() == []
    assert httpx.get(f"{core_on.base_url}/api/storage/rules").status_code == 401


def test_rules_page_is_for_admins(core: RunningCore) -> None:
    with core.api() as client:
        page = client.get("/admin/storage/rules")
        assert page.status_code == 200 and "tiers_rules.js" in page.text
        assert client.get("/static/storage/tiers_rules.js").status_code == 200
    assert httpx.get(
        f"{core.base_url}/admin/storage/rules", follow_redirects=False
    ).status_code in (
        302,
        303,
        307,
    )
