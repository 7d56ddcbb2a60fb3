"""The bin's moves on an archive without a server, on SQLite and PostgreSQL: restore in any
order (a parent a later deletion moved comes back from that entry), the same row ids, start-up
recovery leaves deleted files alone, erase reaches the copies on other areas, and a restore
whose files are gone is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydicom.uid import generate_uid
from sqlalchemy import select

from core_server import db
from core_server.archive import Archive, Origin, copies
from core_server.archive import tables as t
from core_server.archive.areas import AreaSpec
from core_server.events import EventBus
from core_server.refusals import Conflict
from core_server.storage.recycle.service import RecycleBin
from tests.dicom_data import encode, make_ct


def _study(archive: Archive) -> tuple[str, dict[str, str], dict[str, str]]:
    """A study of a CT series (2 images) and an MR series (1): UID, series, images."""
    study = generate_uid()
    series = {"CT": generate_uid(), "MR": generate_uid()}
    images = {}
    for label in ("CT-1", "CT-2", "MR-1"):
        modality, number = label.split("-")
        ds = make_ct(
            patient_id="MV1",
            study_uid=study,
            series_uid=series[modality],
            modality=modality,
            instance_number=int(number),
        )
        images[label] = str(ds.SOPInstanceUID)
        archive.store_instance(encode(ds), Origin("dimse", "TEST"))
    return study, series, images


def _found(archive: Archive, study: str) -> set[str]:
    return {a["SOPInstanceUID"] for a in archive.find("IMAGE", {"StudyInstanceUID": study})}


def _ids(archive: Archive) -> dict[str, list[int]]:
    with db.read(archive.engine) as conn:
        return {
            table.name: sorted(conn.execute(select(table.c.id)).scalars())
            for table in (t.patients, t.studies, t.series, t.instances)
        }


def test_restore_in_either_order_keeps_the_ids(recycle_bin: RecycleBin) -> None:
    archive = recycle_bin.archive
    study, series, images = _study(archive)
    ids = _ids(archive)
    first = recycle_bin.delete("series", series["CT"], username="admin", reason="a")
    second = recycle_bin.delete("study", study, username="admin", reason="b")
    assert _found(archive, study) == set()
    assert archive.statistics() == {"patients": 0, "studies": 0, "series": 0, "instances": 0}
    # the series first: its study and patient come back from the second entry's copy
    recycle_bin.restore(first.id, username="admin")
    assert _found(archive, study) == {images["CT-1"], images["CT-2"]}
    recycle_bin.restore(second.id, username="admin")  # joins the study that is back
    assert _found(archive, study) == set(images.values())
    assert _ids(archive) == ids


def test_recovery_at_start_leaves_deleted_files_alone(recycle_bin: RecycleBin) -> None:
    archive = recycle_bin.archive
    study, _, images = _study(archive)
    (path,) = [a["_path"] for a in archive.find("IMAGE", {"SOPInstanceUID": images["MR-1"]})]
    recycle_bin.delete("instance", images["MR-1"], username="admin", reason="r")
    assert archive.recover()["indexed"] == 0
    assert _found(archive, study) == {images["CT-1"], images["CT-2"]}
    assert archive.storage.absolute(path).exists()


def test_the_storage_check_counts_binned_files_as_kept(recycle_bin: RecycleBin) -> None:
    archive = recycle_bin.archive
    _, _, images = _study(archive)
    recycle_bin.delete("instance", images["MR-1"], username="admin", reason="r")
    assert archive.verify() == {"missing": [], "orphans": []}  # its file waits in the bin


def test_erase_removes_the_copies_elsewhere(recycle_bin: RecycleBin, tmp_path: Path) -> None:
    archive = recycle_bin.archive
    (tmp_path / "nas").mkdir()
    archive.areas.create(AreaSpec("nas", "filesystem", str(tmp_path / "nas"), rank=5))
    study, _, images = _study(archive)
    for uid in images.values():
        copies.copy_to(archive.engine, archive.areas, uid, "nas")
    on_nas = [p for p in (tmp_path / "nas").rglob("*") if p.is_file()]
    assert len(on_nas) == 3
    paths = [a["_path"] for a in archive.find("IMAGE", {"StudyInstanceUID": study})]
    recycle_bin.delete("study", study, username="admin", reason="r")
    assert recycle_bin.empty(username="admin") == 1
    assert not any(archive.storage.absolute(p).exists() for p in paths)
    assert not any(p.exists() for p in on_nas)
    assert all(copies.copies_of(archive.engine, uid) == [] for uid in images.values())


def test_a_restore_without_files_is_refused(recycle_bin: RecycleBin) -> None:
    archive = recycle_bin.archive
    study, _, images = _study(archive)
    (path,) = [a["_path"] for a in archive.find("IMAGE", {"SOPInstanceUID": images["CT-2"]})]
    entry = recycle_bin.delete("instance", images["CT-2"], username="admin", reason="r")
    archive.storage.remove(path)  # as an erase cut short would leave it
    with pytest.raises(Conflict) as refused:
        recycle_bin.restore(entry.id, username="admin")
    assert refused.value.code == "storage.recycle.files_gone"
    assert _found(archive, study) == {images["CT-1"], images["MR-1"]}


def test_the_operators_commands(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core_server import cli

    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    archive = Archive(engine, tmp_path / "data" / "storage", bus)
    recycle_bin = RecycleBin(engine, archive, bus)
    study, _, images = _study(archive)
    entry = recycle_bin.delete("study", study, username="admin", reason="命令")
    base = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    try:
        assert cli.main(["storage", "recycle-list", *base]) == 0
        listed = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
        assert [(e["id"], e["reason"], e["instances"]) for e in listed] == [(entry.id, "命令", 3)]
        assert cli.main(["storage", "recycle-restore", str(entry.id), *base]) == 0
        assert _found(archive, study) == set(images.values())
        recycle_bin.delete("study", study, username="admin", reason="again")
        assert cli.main(["storage", "recycle-erase", *base]) == 0  # not due yet
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"erased": 0}
        assert cli.main(["storage", "recycle-erase", "--all", *base]) == 0
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"erased": 1}
    finally:
        engine.dispose()


def test_erase_takes_the_older_versions_too(recycle_bin: RecycleBin) -> None:
    archive = recycle_bin.archive
    ds = make_ct(patient_id="MV2")
    archive.store_instance(encode(ds), Origin("dimse", "TEST"))
    ds.StudyDescription = "corrected"
    stored = archive.store_instance(encode(ds), Origin("dimse", "TEST", may_replace=True))
    assert stored.outcome == "replaced"
    uid = str(ds.SOPInstanceUID)
    files = [v.path for v in archive.versions(uid)]
    assert len(files) == 2 and all(p.exists() for p in files)
    recycle_bin.delete("instance", uid, username="admin", reason="r")
    assert recycle_bin.empty(username="admin") == 1
    assert not any(p.exists() for p in files)
    with db.read(archive.engine) as conn:
        rows = conn.execute(
            select(t.replaced_instances).where(t.replaced_instances.c.sop_instance_uid == uid)
        ).all()
    assert rows == []
