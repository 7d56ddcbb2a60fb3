"""Replacing an instance's online file (archive.recompress) on SQLite and PostgreSQL: the index
and the file switch together, the old file goes after the commit, and a crash at either point
leaves the old file serving (or the new one, once committed) and an orphan the recovery
removes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import JPEGLSLossless
from sqlalchemy import insert, select

from core_server import clock, db
from core_server.archive import Archive, Origin, recompress
from core_server.archive import tables as t
from core_server.storage.compression import codecs
from core_server.storage.compression.service import produce
from tests.dicom_data import encode, make_ct


@pytest.fixture
def archive(database_url: str, tmp_path: Path) -> Iterator[Archive]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        yield Archive(engine, tmp_path / "storage")
    finally:
        engine.dispose()


def _stored(archive: Archive) -> tuple[str, str, np.ndarray]:
    ds = make_ct(size=32)
    archive.store_instance(encode(ds), Origin("test"))
    found = recompress.online(archive.engine, str(ds.SOPInstanceUID))
    assert found is not None
    return str(ds.SOPInstanceUID), found.path, ds.pixel_array


TARGET = codecs.Target(str(JPEGLSLossless))


def test_replace_switches_index_and_file(archive: Archive) -> None:
    uid, old_path, pixels = _stored(archive)
    done = recompress.replace(archive.engine, archive.storage, uid, lambda d: produce(d, TARGET))
    assert done is not None and done.new_syntax == str(JPEGLSLossless)
    (located,) = archive.locate({"SOPInstanceUID": uid})
    assert located.transfer_syntax_uid == str(JPEGLSLossless)
    assert located.size == located.path.stat().st_size == done.new_size
    assert not archive.storage.absolute(old_path).exists()  # removed after the commit
    # in the same day folder as the original, so the start-up recovery leaves it alone
    new_path = located.path.relative_to(archive.storage.root)
    assert new_path.parts[:3] == Path(old_path).parts[:3]  # YYYY/MM/DD
    assert np.array_equal(dcmread(located.path).pixel_array, pixels)
    assert archive.recover()["indexed"] == 0 and located.path.exists()
    assert archive.verify() == {"missing": [], "orphans": []}


def test_crash_before_the_commit_leaves_the_old_file_serving(archive: Archive) -> None:
    uid, old_path, _ = _stored(archive)
    orphan = archive.storage.new_path("1.2.3", clock.now() - timedelta(days=30))  # an old day
    archive.storage.write(orphan, b"half a recompressed object")
    _journal(archive, uid, old_path, orphan, "writing")
    assert recompress.recover(archive.engine, archive.storage) == 1
    assert not archive.storage.absolute(orphan).exists()
    assert archive.storage.absolute(old_path).exists()
    (located,) = archive.locate({"SOPInstanceUID": uid})
    assert str(located.path).endswith(old_path)
    assert _journal_rows(archive) == 0


def test_crash_after_the_commit_removes_the_old_file(archive: Archive) -> None:
    uid, old_path, _ = _stored(archive)
    new_data, syntax = produce(archive.storage.read(old_path), TARGET)
    found = recompress.online(archive.engine, uid)
    assert found is not None
    new_path = archive.storage.new_path(found.study_instance_uid, found.received_at)
    archive.storage.write(new_path, new_data)
    with db.write(archive.engine) as conn:
        conn.execute(
            t.instances.update()
            .where(t.instances.c.sop_instance_uid == uid)
            .values(path=new_path, transfer_syntax_uid=syntax, size=len(new_data))
        )
    _journal(archive, uid, old_path, new_path, "committed")
    assert recompress.recover(archive.engine, archive.storage) == 1
    assert not archive.storage.absolute(old_path).exists()
    assert archive.storage.absolute(new_path).exists()
    assert archive.verify() == {"missing": [], "orphans": []}


def test_nothing_changes_when_the_index_moved_meanwhile(archive: Archive) -> None:
    uid, old_path, _ = _stored(archive)

    def produce_then_moved(data: bytes) -> tuple[bytes, str]:
        made = produce(data, TARGET)
        with db.write(archive.engine) as conn:  # a correction rewrote the file meanwhile
            conn.execute(
                t.instances.update()
                .where(t.instances.c.sop_instance_uid == uid)
                .values(path=old_path + ".corrected")
            )
        return made

    assert recompress.replace(archive.engine, archive.storage, uid, produce_then_moved) is None
    assert archive.storage.absolute(old_path).exists()
    assert _journal_rows(archive) == 0
    assert len(list(archive.storage.root.rglob("*.dcm"))) == 1  # the new file was dropped


def _journal(archive: Archive, uid: str, old: str, new: str, state: str) -> None:
    with db.write(archive.engine) as conn:
        conn.execute(
            insert(recompress.replacements).values(
                sop_instance_uid=uid,
                old_path=old,
                new_path=new,
                state=state,
                created_at=clock.now(),
            )
        )


def _journal_rows(archive: Archive) -> int:
    with db.read(archive.engine) as conn:
        return len(conn.execute(select(recompress.replacements)).all())
