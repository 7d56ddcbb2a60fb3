"""Delete to the bin, restore, erase (docs/storage-recycle.md), against a running core on
SQLite and PostgreSQL: what is deleted is gone from C-FIND, QIDO-RS, WADO-RS and C-GET at
once; restored, it answers as before, byte for byte."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from core_server import clock, db
from core_server.archive import recycle
from core_server.auth.tables import audit_events
from tests.conftest import RunningCore
from tests.core_server.storage.recycle.conftest import (
    get_study,
    images,
    make_study,
    store,
)


def _bin(admin: Any) -> dict[str, Any]:
    answer = admin.get("/api/storage/recycle-bin")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _entry(admin: Any, entry_id: int) -> dict[str, Any]:
    (found,) = [e for e in _bin(admin)["entries"] if e["id"] == entry_id]
    return found


def test_delete_series_and_study_then_restore(
    core: RunningCore, admin: Any, tmp_path: Path
) -> None:
    study = make_study("RB1")
    assert store(core, *study.images.values()) == [0, 0, 0]
    before = get_study(core, tmp_path / "before", study)
    assert set(before) == study.uids()

    # a series: its images leave C-FIND at once, the other series stays
    answer = admin.delete(f"/api/storage/series/{study.series['CT']}", params={"reason": "错序列"})
    assert answer.status_code == 200, answer.text
    series_entry = answer.json()
    assert series_entry["level"] == "series" and series_entry["instances"] == 2
    assert images(core, study) == study.uids("MR-1")

    # then the rest of the study: nothing answers for it anywhere
    answer = admin.delete(f"/api/storage/studies/{study.uid}", params={"reason": "患者撤销检查"})
    assert answer.status_code == 200, answer.text
    study_entry = answer.json()
    assert images(core, study) == set()
    qido = admin.get("/dicom-web/studies", params={"StudyInstanceUID": study.uid})
    assert qido.status_code == 204 or qido.json() == []
    assert admin.get(f"/dicom-web/studies/{study.uid}/metadata").status_code == 404
    assert get_study(core, tmp_path / "gone", study) == {}
    assert admin.get(f"/api/storage/recycle-bin/studies/{study.uid}").json()["deleted"] is True

    # the bin lists both, the name as a person reads it, times in the hospital's zone
    shown = _entry(admin, study_entry["id"])
    assert shown["patient_name"] == "王建国"
    assert shown["username"] == "admin" and shown["reason"] == "患者撤销检查"
    assert shown["deleted_at"].endswith("+08:00")
    erase_at = clock.utc(_parse(shown["erase_at"]))
    assert erase_at - clock.utc(_parse(shown["deleted_at"])) == timedelta(days=30)

    # deleting again: nothing there
    again = admin.delete(f"/api/storage/studies/{study.uid}", params={"reason": "x"})
    assert again.status_code == 404
    assert again.json()["detail"]["code"] == "storage.recycle.not_found"

    # restore the study part, then the series that was deleted first
    for entry in (study_entry, series_entry):
        answer = admin.post(f"/api/storage/recycle-bin/{entry['id']}/restore")
        assert answer.status_code == 200, answer.text
    assert images(core, study) == study.uids()
    assert get_study(core, tmp_path / "after", study) == before
    assert admin.get(f"/api/storage/recycle-bin/studies/{study.uid}").json()["deleted"] is False

    # ATNA: each deletion is an archive.deleted audit entry (110105 Study Deleted)
    with db.read(core.core.engine) as conn:
        targets = conn.execute(
            select(audit_events.c.target).where(audit_events.c.action == "archive.deleted")
        ).scalars()
        assert list(targets).count(f"study:{study.uid}") == 2


def test_restore_refused_when_the_instance_came_again(core: RunningCore, admin: Any) -> None:
    study = make_study("RB2")
    store(core, *study.images.values())
    uid = str(study.images["CT-1"].SOPInstanceUID)
    entry = admin.delete(f"/api/storage/instances/{uid}", params={"reason": "重复"}).json()
    assert images(core, study) == study.uids("CT-2", "MR-1")
    # an admin's deletion is no rejection: the modality may send it again
    assert store(core, study.images["CT-1"]) == [0]
    answer = admin.post(f"/api/storage/recycle-bin/{entry['id']}/restore")
    assert answer.status_code == 409
    assert answer.json()["detail"]["code"] == "storage.recycle.restore_conflict"
    assert answer.json()["detail"]["sop_instance_uid"] == uid
    assert images(core, study) == study.uids()


def test_a_reason_is_required_and_unknown_uids_are_404(core: RunningCore, admin: Any) -> None:
    assert admin.delete("/api/storage/studies/1.2.3", params={"reason": ""}).status_code == 422
    assert admin.delete("/api/storage/studies/1.2.3").status_code == 422
    assert admin.delete("/api/storage/studies/1.2.3", params={"reason": "x"}).status_code == 404
    assert admin.post("/api/storage/recycle-bin/999999/restore").status_code == 404


def test_erase_after_the_keeping_time_and_empty_now(core: RunningCore, admin: Any) -> None:
    old, new = make_study("RB3"), make_study("RB4")
    store(core, *old.images.values(), *new.images.values())
    storage = core.core.archive.storage
    paths = {s.uid: _paths(core, s) for s in (old, new)}
    ids = {}
    for s in (old, new):
        ids[s.uid] = admin.delete(f"/api/storage/studies/{s.uid}", params={"reason": "r"}).json()[
            "id"
        ]
    answer = admin.put("/api/storage/recycle-bin/settings", json={"keep_days": 7})
    assert answer.status_code == 200 and answer.json()["keep_days"] == 7
    assert admin.put("/api/storage/recycle-bin/settings", json={"keep_days": 0}).status_code == 422
    # the old one was deleted eight days ago
    with db.write(core.core.engine) as conn:
        conn.execute(
            update(recycle.recycle_bin)
            .where(recycle.recycle_bin.c.id == ids[old.uid])
            .values(deleted_at=clock.now() - timedelta(days=8))
        )
    service = core.app.state.ctx.lifecycle.recycle
    assert service.erase_due() == 1
    assert all(not storage.absolute(p).exists() for p in paths[old.uid])
    assert all(storage.absolute(p).exists() for p in paths[new.uid])
    listed = {e["id"] for e in _bin(admin)["entries"]}
    assert ids[old.uid] not in listed and ids[new.uid] in listed
    assert admin.post(f"/api/storage/recycle-bin/{ids[old.uid]}/restore").status_code == 404

    # empty now: only with the confirmation
    assert admin.post("/api/storage/recycle-bin/empty", json={"confirm": False}).status_code == 422
    answer = admin.post("/api/storage/recycle-bin/empty", json={"confirm": True})
    assert answer.status_code == 200 and answer.json()["erased"] >= 1
    assert all(not storage.absolute(p).exists() for p in paths[new.uid])
    assert _bin(admin)["total"] == 0
    admin.put("/api/storage/recycle-bin/settings", json={"keep_days": 30})


def test_only_admins(core: RunningCore) -> None:
    with core.api() as admin:
        answer = admin.post(
            "/api/users",
            json={"username": "reg1", "password": "Registrar-pass-1", "role": "registrar"},
        )
        assert answer.status_code in (200, 201), answer.text
    with core.api("reg1", "Registrar-pass-1") as registrar:
        assert registrar.get("/api/storage/recycle-bin").status_code == 403
        answer = registrar.delete("/api/storage/studies/1.2.3", params={"reason": "x"})
        assert answer.status_code == 403


def _paths(core: RunningCore, study: Any) -> list[str]:
    return [
        str(a["_path"]) for a in core.core.archive.find("IMAGE", {"StudyInstanceUID": study.uid})
    ]


def _parse(iso: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(iso)
