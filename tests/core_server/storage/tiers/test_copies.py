"""Copies on a second filesystem area and on a real S3 server (moto), verification, removal
of the online file only with verified copies, recall through Archive.locate (bytes
identical), offline sets, forgetting copies; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from core_server.archive import copies
from core_server.archive.areas import AreaSpec, OfflineSet
from core_server.refusals import Conflict
from tests.core_server.storage.tiers.conftest import S3, Stored


def _located(stored: Stored) -> dict[str, bytes]:
    return {
        f.sop_instance_uid: f.path.read_bytes()
        for f in stored.archive.locate({"StudyInstanceUID": stored.study})
    }


def test_copy_verify_drop_and_recall_from_s3(stored: Stored, s3_server: S3) -> None:
    archive, engine = stored.archive, stored.engine
    bucket = s3_server.new_bucket()
    archive.areas.create(s3_server.spec(bucket))
    uids = list(stored.objects)

    assert not copies.drop_online(engine, archive.areas, uids[0])  # no copy yet: refused
    assert stored.online_path(uids[0]).read_bytes() == stored.objects[uids[0]]

    for uid in uids:
        copy = copies.copy_to(engine, archive.areas, uid, "s3")
        assert copy.verified and copy.size == len(stored.objects[uid])
        assert copy.key.endswith(".dcm")
        head = s3_server.client().head_object(
            Bucket=bucket, Key=f"archive/{copy.key}", ChecksumMode="ENABLED"
        )  # the store holds our SHA-256: the check is this HEAD, no data read
        assert base64.b64decode(head["ChecksumSHA256"]).hex() == copy.sha256
        assert copies.drop_online(engine, archive.areas, uid)
        assert not stored.online_path(uid).exists()
    assert copies.not_online(engine, uids) == set(uids)
    assert archive.verify()["missing"] == []  # moved, not lost

    assert _located(stored) == stored.objects  # recalled, bytes identical
    assert copies.not_online(engine, uids) == set()
    states = [e["state"] for e in stored.events if e["study_instance_uid"] == stored.study]
    assert states == ["retrieving", "done"]
    assert stored.events[-1]["done"] == 3


def test_fastest_copy_first_and_a_bad_one_skipped(
    stored: Stored, s3_server: S3, tmp_path: Path
) -> None:
    archive, engine = stored.archive, stored.engine
    (tmp_path / "nas").mkdir()
    archive.areas.create(AreaSpec("nas", "filesystem", str(tmp_path / "nas"), rank=5))
    archive.areas.create(s3_server.spec(s3_server.new_bucket(), rank=20))
    first, second, *_ = stored.objects
    for uid in (first, second):
        copies.copy_to(engine, archive.areas, uid, "nas")
        copies.copy_to(engine, archive.areas, uid, "s3")
        assert copies.drop_online(engine, archive.areas, uid, min_verified=2)
    # The NAS copy of the first is damaged behind the index's back: the S3 one is used.
    nas_copy = copies.copies_of_one(engine, first, "nas")
    damaged = tmp_path / "nas" / nas_copy.key
    damaged.write_bytes(b"\0" * damaged.stat().st_size)
    s3 = archive.areas.get("s3")
    s3.delete(copies.copies_of_one(engine, second, "s3").key)  # the second only on the NAS
    assert _located(stored) == stored.objects


def test_drop_refused_without_enough_verified_copies(
    stored: Stored, s3_server: S3, tmp_path: Path
) -> None:
    archive, engine = stored.archive, stored.engine
    archive.areas.create(s3_server.spec(s3_server.new_bucket()))
    (tmp_path / "nas").mkdir()
    archive.areas.create(AreaSpec("nas", "filesystem", str(tmp_path / "nas"), rank=5))
    first, second, third = stored.objects

    copies.copy_to(engine, archive.areas, first, "s3", verify=False)
    assert not copies.drop_online(engine, archive.areas, first)  # unverified

    copies.copy_to(engine, archive.areas, second, "s3")
    archive.areas.get("s3").delete(copies.copies_of_one(engine, second, "s3").key)
    assert not copies.drop_online(engine, archive.areas, second)  # re-checked: gone

    copies.copy_to(engine, archive.areas, third, "nas")
    assert not copies.drop_online(engine, archive.areas, third, min_verified=2)
    assert copies.drop_online(engine, archive.areas, third, min_verified=1)

    assert copies.not_online(engine, stored.objects) == {third}
    assert stored.online_path(first).read_bytes() == stored.objects[first]
    assert stored.online_path(second).read_bytes() == stored.objects[second]
    assert not copies.verify(engine, archive.areas, second, "s3")
    assert not copies.copies_of_one(engine, second, "s3").verified


def test_offline_set_asks_for_its_label(stored: Stored, tmp_path: Path) -> None:
    from core_server.storage.tiers.areas_service import Tiers, seal_set

    archive, engine = stored.archive, stored.engine
    sets = tmp_path / "sets"
    archive.areas.create(AreaSpec("tape", "offline", str(sets), rank=90, label="SET-A"))
    for uid in stored.objects:
        copy = copies.copy_to(engine, archive.areas, uid, "tape")
        assert copy.verified and copy.volume == "SET-A"
        assert copies.drop_online(engine, archive.areas, uid)
    sealed = seal_set(Tiers(engine, archive, archive.bus), "tape", "SET-B")
    assert sealed["objects"] == 3 and (sets / "SET-A" / "MANIFEST.json").exists()
    assert archive.areas.spec("tape").label == "SET-B"

    shutil.move(sets / "SET-A", tmp_path / "shelf")  # taken away
    with pytest.raises(OfflineSet) as refused:
        archive.locate({"StudyInstanceUID": stored.study})
    assert refused.value.values["label"] == "SET-A" and refused.value.status == 409
    assert "insert set SET-A" in refused.value.text("en")
    assert stored.events[-1]["state"] == "failed" and stored.events[-1]["label"] == "SET-A"

    shutil.move(tmp_path / "shelf", sets / "SET-A")  # mounted again
    assert _located(stored) == stored.objects


def test_forget_erases_every_copy(stored: Stored, s3_server: S3, tmp_path: Path) -> None:
    archive, engine = stored.archive, stored.engine
    archive.areas.create(s3_server.spec(s3_server.new_bucket()))
    (tmp_path / "nas").mkdir()
    archive.areas.create(AreaSpec("nas", "filesystem", str(tmp_path / "nas"), rank=5))
    uid = next(iter(stored.objects))
    keys = [copies.copy_to(engine, archive.areas, uid, a).key for a in ("s3", "nas")]
    assert copies.forget(engine, archive.areas, [uid]) == 2
    assert copies.copies_of(engine, uid) == []
    assert not archive.areas.get("s3").exists(keys[0])
    assert not (tmp_path / "nas" / keys[1]).exists()


def test_areas_are_edited_and_kept_while_they_hold_copies(stored: Stored, tmp_path: Path) -> None:
    archive, engine = stored.archive, stored.engine
    (tmp_path / "nas").mkdir()
    spec = AreaSpec("nas", "filesystem", str(tmp_path / "nas"), secret_key="hidden")
    public = archive.areas.create(spec).public()
    assert public["has_secret"] is True and "hidden" not in str(public)
    with pytest.raises(Conflict):
        archive.areas.create(spec)
    archive.areas.update("nas", {"rank": 3, "secret_key": ""})  # an empty secret keeps it
    assert archive.areas.spec("nas").rank == 3 and archive.areas.spec("nas").secret_key == "hidden"
    first, second, _ = stored.objects
    copies.copy_to(engine, archive.areas, first, "nas")
    with pytest.raises(Conflict):
        archive.areas.delete("nas")
    archive.areas.update("nas", {"enabled": False})
    with pytest.raises(Conflict) as refused:
        copies.copy_to(engine, archive.areas, second, "nas")
    assert refused.value.code == "storage.tiers.area_disabled"
    assert copies.drop_online(engine, archive.areas, first)  # its copy still counts and reads
    assert (
        stored.archive.locate({"SOPInstanceUID": first})[0].path.read_bytes()
        == (stored.objects[first])
    )


def test_storage_commitment_counts_a_verified_copy(stored: Stored, tmp_path: Path) -> None:
    from core_server.archive import Reference

    archive, engine = stored.archive, stored.engine
    (tmp_path / "nas").mkdir()
    archive.areas.create(AreaSpec("nas", "filesystem", str(tmp_path / "nas")))
    moved, lost, kept = stored.objects
    for uid in (moved, lost):
        copies.copy_to(engine, archive.areas, uid, "nas")
        assert copies.drop_online(engine, archive.areas, uid)
    (tmp_path / "nas" / copies.copies_of_one(engine, lost, "nas").key).unlink()
    copies.verify(engine, archive.areas, lost, "nas")  # now unverified
    ct = "1.2.840.10008.5.1.4.1.1.2"
    verdict = archive.commitment([Reference(ct, u) for u in (moved, lost, kept)])
    assert {r.sop_instance_uid for r in verdict.committed} == {moved, kept}
    assert [r.sop_instance_uid for r, _ in verdict.failed] == [lost]
