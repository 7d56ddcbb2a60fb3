"""The single ingest path: durability, bad input, duplicates, recovery after a crash."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core_server import db
from core_server.archive import Archive, InvalidObject, Origin, ingest, storage
from core_server.archive import tables as t
from tests.dicom_data import encode, make_ct, testdata

ORIGIN = Origin("test", "CT01")


@pytest.fixture
def archive(tmp_path: Path, database_url: str) -> Archive:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    return Archive(engine, tmp_path / "storage")


def files(archive: Archive) -> list[Path]:
    """Stored files, and anything left in the incoming folder."""
    return sorted(archive.storage.root.rglob("*.dcm")) + sorted(archive.storage.incoming.iterdir())


def test_stored_file_is_the_bytes_received(archive: Archive) -> None:
    data = encode(make_ct(patient_name="Wang^Wu=王^五", charset="GB18030"))
    stored = archive.store_instance(data, ORIGIN)
    assert stored.outcome == "stored"
    (path,) = files(archive)
    assert path.read_bytes() == data
    (patient,) = archive.find("PATIENT", {"PatientName": "王*"})
    assert patient["PatientName"] == "Wang^Wu=王^五"
    assert archive.verify() == {"missing": [], "orphans": []}


def test_duplicates_same_bytes_change_nothing(archive: Archive) -> None:
    data = encode(make_ct())
    archive.store_instance(data, ORIGIN)
    assert archive.store_instance(data, ORIGIN).outcome == "duplicate"
    assert len(files(archive)) == 1
    assert archive.statistics()["instances"] == 1


def test_duplicates_other_bytes_replace_and_keep_the_older_file(archive: Archive) -> None:
    """From an origin with the overwrite permission (see test_ingest_checks for the rest)."""
    first = make_ct(StudyDescription="first")
    archive.store_instance(encode(first), ORIGIN)
    second = make_ct(
        sop_uid=first.SOPInstanceUID,
        study_uid=first.StudyInstanceUID,
        series_uid=first.SeriesInstanceUID,
        instance_number=7,
    )
    overwriting = Origin("test", "CT01", may_replace=True)
    assert archive.store_instance(encode(second), overwriting).outcome == "replaced"
    (image,) = archive.find("IMAGE", {"SOPInstanceUID": first.SOPInstanceUID})
    assert image["InstanceNumber"] == 7
    assert len(files(archive)) == 2  # the older file is kept
    with db.read(archive.engine) as conn:
        assert len(conn.execute(select(t.replaced_instances)).all()) == 1
    assert archive.verify() == {"missing": [], "orphans": []}


@pytest.mark.parametrize("name", ["MR_truncated.dcm", "rtplan_truncated.dcm"])
def test_truncated_objects_are_refused_and_leave_nothing(archive: Archive, name: str) -> None:
    with pytest.raises(InvalidObject, match="truncated"):
        archive.store_instance(testdata(name).read_bytes(), ORIGIN)
    assert files(archive) == []
    assert archive.statistics()["instances"] == 0


def test_cut_encapsulated_pixel_data_is_refused(archive: Archive) -> None:
    data = testdata("JPEG2000.dcm").read_bytes()
    with pytest.raises(InvalidObject):
        archive.store_instance(data[:-20], ORIGIN)
    archive.store_instance(data, ORIGIN)  # the whole object is fine


def test_not_dicom_and_missing_uids(archive: Archive) -> None:
    with pytest.raises(InvalidObject, match="not a readable DICOM file"):
        archive.store_instance(b"hello" * 100, ORIGIN)
    ds = make_ct()
    del ds.StudyInstanceUID
    with pytest.raises(InvalidObject, match="StudyInstanceUID is missing"):
        archive.store_instance(encode(ds), ORIGIN)
    assert files(archive) == []


def test_a_failed_index_transaction_removes_the_file(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("database went away")

    monkeypatch.setattr(ingest, "_index", broken)
    with pytest.raises(RuntimeError):
        archive.store_instance(encode(make_ct()), ORIGIN)
    assert files(archive) == []


def test_recover_indexes_files_left_by_a_crash(archive: Archive) -> None:
    ds = make_ct(patient_id="ORPHAN")
    relative = archive.storage.new_path(ds.StudyInstanceUID, datetime.now(UTC))
    archive.storage.write(relative, encode(ds))  # written, then the process died
    stale = archive.storage.receive(b"half an object")  # a receive the crash cut short
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = archive.storage.receive(b"another process is receiving this")
    assert archive.verify()["orphans"] == [relative]
    assert archive.recover() == {"partial_removed": 1, "indexed": 1}
    assert not stale.exists() and fresh.exists()
    assert archive.verify() == {"missing": [], "orphans": []}
    assert archive.count("STUDY", {"PatientID": "ORPHAN"}) == 1


def test_index_rows_a_power_cut_took_are_rebuilt_from_the_files(archive: Archive) -> None:
    """The index commit does not wait for the disk: a power cut may roll back the newest rows
    (never their fsynced files). Start-up indexes those files again, as they were."""
    first = make_ct(patient_id="CUT", patient_name="Zhang^San=张^三", charset="GB18030")
    stored = [archive.store_instance(encode(first), ORIGIN)]
    for number in (2, 3):
        image = make_ct(
            patient_id="CUT",
            patient_name="Zhang^San=张^三",
            charset="GB18030",
            study_uid=first.StudyInstanceUID,
            series_uid=first.SeriesInstanceUID,
            instance_number=number,
        )
        stored.append(archive.store_instance(encode(image), ORIGIN))
    with db.write(archive.engine) as conn:  # the rows the lost WAL tail held
        conn.execute(t.instances.delete())
        conn.execute(t.series.delete())
        conn.execute(t.studies.delete())
        conn.execute(t.patients.delete())
    assert len(archive.verify()["orphans"]) == 3
    assert archive.recover()["indexed"] == 3
    assert archive.verify() == {"missing": [], "orphans": []}
    images = archive.find("IMAGE", {"PatientName": "张*"})
    assert sorted(i["SOPInstanceUID"] for i in images) == sorted(s.sop_instance_uid for s in stored)


def test_iso_2022_ir_58_names_are_indexed_right(archive: Archive) -> None:
    """pydicom alone writes and reads GB 2312 without its escape sequence; ours does both."""
    ds = make_ct(patient_name="Zhao^Liu=赵^六", charset=["", "ISO 2022 IR 58"])
    data = encode(ds)
    assert b"\x1b$)A\xd5\xd4" in data  # ESC $ ) A designates GB 2312 before 赵
    archive.store_instance(data, ORIGIN)
    (patient,) = archive.find("PATIENT", {"PatientName": "赵*"})
    assert patient["PatientName"] == "Zhao^Liu=赵^六"


def test_a_remembered_series_that_was_removed_is_created_again(archive: Archive) -> None:
    first = make_ct(patient_id="GONE")
    archive.store_instance(encode(first), ORIGIN)  # the series id is now remembered
    with db.write(archive.engine) as conn:  # removed behind the archive's back
        conn.execute(t.instances.delete())
        conn.execute(t.series.delete())
    second = make_ct(
        patient_id="GONE",
        study_uid=first.StudyInstanceUID,
        series_uid=first.SeriesInstanceUID,
        instance_number=2,
    )
    assert archive.store_instance(encode(second), ORIGIN).outcome == "stored"
    (series,) = archive.find("SERIES", {"SeriesInstanceUID": first.SeriesInstanceUID})
    assert series["PatientID"] == "GONE"


def test_remembered_series_belong_to_their_own_database(tmp_path: Path) -> None:
    archives = []
    for name in ("a", "b"):
        engine = db.make_engine(f"sqlite:///{tmp_path / name}.db")
        db.migrate(engine)
        archives.append(Archive(engine, tmp_path / name))
    first, second = archives
    second.store_instance(encode(make_ct(patient_id="ONLY-B")), ORIGIN)  # series id 1 in b
    shared = make_ct(patient_id="BOTH")
    first.store_instance(encode(shared), ORIGIN)  # series id 1 in a, remembered for a
    second.store_instance(encode(shared), ORIGIN)
    (series,) = second.find("SERIES", {"SeriesInstanceUID": shared.SeriesInstanceUID})
    assert series["PatientID"] == "BOTH"
    assert second.count("SERIES", {}) == 2


def test_writeback_of_a_received_file_starts_at_once(tmp_path: Path) -> None:
    """Linux's sync_file_range is reached through ctypes (the fsync then waits less)."""
    path = tmp_path / "received.part"
    with path.open("wb") as file:
        file.write(os.urandom(1 << 20))
        file.flush()
        assert storage.start_writeback(file.fileno()) is True
    with path.open("rb") as file:
        assert storage.start_writeback(file.fileno()) is True  # nothing dirty: still fine
    assert storage.start_writeback(-1) is False  # a bad descriptor is refused, not raised


def test_the_next_image_of_a_series_takes_the_short_path_and_reads_back_the_same(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    short: list[bool] = []
    original = db.write_raw

    def spy(engine: object, durable: bool = True) -> object:
        short.append(durable)
        return original(engine, durable)  # type: ignore[arg-type]

    monkeypatch.setattr(db, "write_raw", spy)
    first = make_ct(patient_id="SHORT", instance_number=1)
    second = make_ct(
        patient_id="SHORT",
        study_uid=first.StudyInstanceUID,
        series_uid=first.SeriesInstanceUID,
        instance_number=2,
    )
    before = datetime.now(UTC)
    archive.store_instance(encode(first), ORIGIN)
    assert short == []  # a new series: the full path
    archive.store_instance(encode(second), ORIGIN)
    assert short == [False]  # non-durable, on the driver's cursor
    with db.read(archive.engine) as conn:
        rows = conn.execute(select(t.instances).order_by(t.instances.c.instance_number)).all()
    assert [r.instance_number for r in rows] == [1, 2]
    assert rows[0].series_fk == rows[1].series_fk
    for row in rows:
        received = row.received_at.replace(tzinfo=row.received_at.tzinfo or UTC)
        assert before - timedelta(seconds=1) <= received <= datetime.now(UTC)
        assert (
            row.source_ae_title == "CT01" and row.transfer_syntax_uid == rows[0].transfer_syntax_uid
        )
        assert archive.storage.exists(row.path, row.size)


def test_file_names_differ_between_forked_processes() -> None:
    """Names come from a private generator (no system call each), reseeded in a forked child:
    two processes storing into one area must never draw the same name."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(write, storage._unique().encode())
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 64).decode() != storage._unique()
    os.close(read)
    os.close(write)


def test_a_file_indexed_by_two_nodes_is_kept(archive: Archive) -> None:
    """Several nodes on one storage folder: a restarting node's recovery may index a file that
    another node has renamed into place and is indexing at that moment, in either order.
    Neither may take the file for a duplicate and remove it: it is the object's one copy."""
    ct = make_ct()
    stored = archive.store_instance(encode(ct), ORIGIN)
    (path,) = files(archive)
    relative = str(path.relative_to(archive.storage.root))
    again = ingest.index_file(archive.engine, archive.storage, relative)  # recovery, second
    assert again.outcome == "stored" and path.exists()

    # The other order: recovery indexed the adopted file first, then the storing node's own
    # index transaction finds the row.
    second = make_ct()
    incoming = archive.storage.receive(encode(second))
    relative = archive.storage.new_path(second.StudyInstanceUID, datetime.now(UTC))
    archive.storage.adopt(incoming, relative)
    ingest.index_file(archive.engine, archive.storage, relative)  # a node's recovery, first
    parsed = ingest.parse(archive.storage.absolute(relative))
    size = archive.storage.absolute(relative).stat().st_size
    outcome, _ = ingest._index(
        archive.engine, archive.storage, parsed, relative, size, datetime.now(UTC), ORIGIN
    )
    assert outcome == "stored" and archive.storage.absolute(relative).exists()
    assert archive.verify() == {"missing": [], "orphans": []}
    assert stored.outcome == "stored" and archive.statistics()["instances"] == 2
