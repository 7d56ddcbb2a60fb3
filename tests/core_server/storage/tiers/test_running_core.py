"""Through a running core: the areas REST (admin; the secret never answered), C-GET and
WADO-RS of a study whose online files are gone bring it back from S3 (bytes identical), the
REST recall and a study's copies, an offline set asked for by label (409, not 500), the
check started and reported over REST."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom import dcmread

from core_server import db
from core_server.archive import copies
from core_server.queueing import journal
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import dcmtk, getscu, keys, peer
from tests.core_server.storage.tiers.conftest import S3, store_study


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path_factory.mktemp("tiers") / "data").start()
    running.register("GETSCU", allow_retrieve=True)
    try:
        yield running
    finally:
        running.stop()


def _areas(client: httpx.Client, s3: S3, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    bucket = s3.new_bucket()
    for body in (
        {"name": "nas", "kind": "filesystem", "location": str(folder), "rank": 5},
        {
            "name": "cloud",
            "kind": "s3",
            "location": bucket,
            "rank": 20,
            "endpoint_url": s3.endpoint,
            "access_key": s3.access_key,
            "secret_key": s3.secret_key,
        },
    ):
        answer = client.post("/api/storage/areas", json=body)
        assert answer.status_code == 201, answer.text


def _move_to(core: RunningCore, uids: list[str], area: str) -> None:
    archive = core.core.archive
    for uid in uids:
        assert copies.copy_to(archive.engine, archive.areas, uid, area).verified
        assert copies.drop_online(archive.engine, archive.areas, uid)


def _wait(client: httpx.Client, path: str, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(path).json()
        if done(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{path} did not get there: {body}")


def test_areas_rest(core: RunningCore, s3_server: S3, tmp_path: Path) -> None:
    with core.api() as client:
        _areas(client, s3_server, tmp_path / "nas")
        listed = client.get("/api/storage/areas").json()
        assert [a["name"] for a in listed] == ["online", "nas", "cloud"]
        assert listed[2]["has_secret"] is True and s3_server.secret_key not in str(listed)
        assert client.put("/api/storage/areas/nas", json={"rank": 7}).json()["rank"] == 7
        refused = client.post(
            "/api/storage/areas", json={"name": "x", "kind": "tape", "location": "/"}
        )
        assert refused.status_code == 422
        assert refused.json()["detail"]["code"] == "storage.tiers.area_kind"
        assert client.put("/api/storage/areas/online", json={"rank": 3}).status_code == 422
        assert client.delete("/api/storage/areas/nas").status_code == 204
        assert client.delete("/api/storage/areas/cloud").status_code == 204
        assert client.delete("/api/storage/areas/cloud").status_code == 404


def test_cget_wado_and_rest_recall_bring_a_study_back(
    core: RunningCore, s3_server: S3, tmp_path: Path
) -> None:
    archive = core.core.archive
    study, objects = store_study(archive, 4)
    uids = list(objects)
    with core.api() as client:
        _areas(client, s3_server, tmp_path / "nas")
        _move_to(core, uids, "cloud")
        where = client.get(f"/api/storage/studies/{study}/copies").json()
        assert where["objects"] == 4 and where["online"] == 0
        assert {c["area"] for i in where["instances"] for c in i["copies"]} == {"cloud"}

        got = getscu(core, tmp_path / "cget", QueryRetrieveLevel="STUDY", StudyInstanceUID=study)
        received = {dcmread(p).SOPInstanceUID: dcmread(p) for p in got}
        assert set(received) == set(uids)
        for uid, data in objects.items():
            assert received[uid].PixelData == dcmread(BytesIO(data)).PixelData
        assert copies.not_online(archive.engine, uids) == set()
        for uid, data in objects.items():
            (answer,) = archive.find("IMAGE", {"SOPInstanceUID": uid})
            assert archive.storage.absolute(answer["_path"]).read_bytes() == data

        _move_to(core, uids[:1], "cloud")
        (answer,) = archive.find("IMAGE", {"SOPInstanceUID": uids[0]})
        path = (
            f"/dicom-web/studies/{study}/series/{answer['SeriesInstanceUID']}/instances/{uids[0]}"
        )
        wado = client.get(
            path,
            headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
        )
        assert wado.status_code == 200
        assert objects[uids[0]][132:] in wado.content  # the stored data set, byte for byte

        _move_to(core, uids, "cloud")
        asked = client.post("/api/storage/recall", json={"study_instance_uid": study})
        assert asked.status_code == 202 and asked.json()["state"] == "retrieving"
        # The objects are online a moment before the recall's own row says done: wait for both.
        back = _wait(
            client,
            f"/api/storage/studies/{study}/copies",
            lambda b: b["online"] == 4 and (b.get("recall") or {}).get("state") != "retrieving",
        )
        assert back["recall"]["state"] == "done"
        with db.read(archive.engine) as conn:  # what /api/ws pushes to the viewer pages
            pushed = [
                e.payload["recall"]
                for e in journal.since(conn, 0, limit=100_000)
                if e.type == "archive.recall" and e.payload["recall"]["study_instance_uid"] == study
            ]
        assert [e["state"] for e in pushed][-2:] == ["retrieving", "done"]
        again = client.post("/api/storage/recall", json={"study_instance_uid": study})
        assert again.json()["state"] == "online"


def test_offline_set_is_asked_for(core: RunningCore, tmp_path: Path) -> None:
    archive = core.core.archive
    study, objects = store_study(archive, 2)
    sets = tmp_path / "sets"
    with core.api() as client:
        body = {"name": "shelf", "kind": "offline", "location": str(sets), "label": "CT-2026-01"}
        assert client.post("/api/storage/areas", json=body).status_code == 201
        _move_to(core, list(objects), "shelf")
        sealed = client.post("/api/storage/areas/shelf/seal", json={"next_label": "CT-2026-02"})
        assert sealed.json()["objects"] == 2
        shutil.move(sets / "CT-2026-01", tmp_path / "away")
        uid = next(iter(objects))
        (answer,) = archive.find("IMAGE", {"SOPInstanceUID": uid})
        path = f"/dicom-web/studies/{study}/series/{answer['SeriesInstanceUID']}/instances/{uid}"
        refused = client.get(
            path, headers={"Accept": 'multipart/related; type="application/dicom"'}
        )
        assert refused.status_code == 409
        assert refused.json()["detail"]["code"] == "storage.tiers.offline_set"
        assert refused.json()["detail"]["label"] == "CT-2026-01"
        shutil.move(tmp_path / "away", sets / "CT-2026-01")
        assert (
            client.get(
                path, headers={"Accept": 'multipart/related; type="application/dicom"'}
            ).status_code
            == 200
        )


def test_check_over_rest(core: RunningCore) -> None:
    store_study(core.core.archive, 6)  # its own objects: xdist may run it on a fresh core
    with core.api() as client:
        started = client.post("/api/storage/check", json={"full": True, "repair": True})
        assert started.status_code == 202 and started.json()["mode"] == "full"
        body = _wait(
            client,
            "/api/storage/check",
            lambda b: b["report"] and b["report"]["finished_at"] and b["report"]["mode"] == "full",
        )
        assert body["report"]["checked"] >= 6
        assert [p for p in body["report"]["problems"] if not p["repaired"]] == []


def test_cget_of_an_offline_set_fails_cleanly(core: RunningCore, tmp_path: Path) -> None:
    """A C-GET of objects only on a set taken away answers a refusal status (A702, the
    comment "Offline: insert set V-1"), not an aborted association; mounted, it works."""
    archive = core.core.archive
    study, objects = store_study(archive, 2)
    sets = tmp_path / "sets"
    with core.api() as client:
        body = {"name": "vault", "kind": "offline", "location": str(sets), "label": "V-1"}
        assert client.post("/api/storage/areas", json=body).status_code == 201
    _move_to(core, list(objects), "vault")
    shutil.move(sets / "V-1", tmp_path / "away")
    identifier = keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study)
    folder = tmp_path / "cget"
    folder.mkdir()
    answer = dcmtk(
        "getscu",
        "-v",
        "-S",
        "-aet",
        "GETSCU",
        "-od",
        folder,
        *identifier,
        *peer(core),
        check=False,
    )
    assert "Refused: OutOfResourcesSubOperations" in answer.stderr
    assert "Releasing Association" in answer.stderr and list(folder.iterdir()) == []
    shutil.move(tmp_path / "away", sets / "V-1")
    got = getscu(core, tmp_path / "again", QueryRetrieveLevel="STUDY", StudyInstanceUID=study)
    assert {dcmread(p).SOPInstanceUID for p in got} == set(objects)
