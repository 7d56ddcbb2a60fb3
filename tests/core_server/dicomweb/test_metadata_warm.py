"""Series metadata made ahead (``core_server.dicomweb.metadata_warm``): once nothing has been
stored for a while, a stored series' DICOM JSON is in the cache, the same text a request would
encode; while objects keep arriving, nothing is encoded."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydicom.uid import generate_uid
from sqlalchemy import select

from core_server import db
from core_server.archive import Archive, Origin
from core_server.dicomweb.metadata import encode_instance, instances_json
from core_server.dicomweb.metadata_warm import MetadataWarmer
from core_server.dicomweb.tables import instance_metadata
from tests.dicom_data import encode, make_ct

ORIGIN = Origin("test", "CT01")


@pytest.fixture
def archive(tmp_path: Path, database_url: str) -> Archive:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    return Archive(engine, tmp_path / "storage")


def cached(archive: Archive) -> set[str]:
    with db.read(archive.engine) as conn:
        return set(conn.execute(select(instance_metadata.c.sop_instance_uid)).scalars())


def store_series(archive: Archive, count: int) -> tuple[str, str, list[str]]:
    study, series = generate_uid(), generate_uid()
    uids = []
    for number in range(1, count + 1):
        ds = make_ct(study_uid=study, series_uid=series, instance_number=number)
        archive.store_instance(encode(ds), ORIGIN)
        uids.append(str(ds.SOPInstanceUID))
    return study, series, uids


def test_a_quiet_archive_has_each_new_series_metadata_cached(archive: Archive) -> None:
    warmer = MetadataWarmer(archive.engine, archive, quiet=0.2)
    warmer.start()
    try:
        first = store_series(archive, 3)
        second = store_series(archive, 2)
        wanted = set(first[2]) | set(second[2])
        deadline = time.monotonic() + 60
        while not wanted <= cached(archive) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert wanted <= cached(archive)
    finally:
        warmer.stop()
    # what the request reads back is what it would have encoded from the files
    files = archive.locate({"StudyInstanceUID": first[0], "SeriesInstanceUID": first[1]})
    texts = instances_json(archive.engine, files).texts
    assert [json.loads(t) for t in texts] == [json.loads(encode_instance(f)) for f in files]


def test_nothing_is_encoded_while_objects_arrive(archive: Archive) -> None:
    warmer = MetadataWarmer(archive.engine, archive, quiet=60)
    archive.bus.subscribe("archive.instance_stored", warmer._stored)
    study, series, _uids = store_series(archive, 2)
    assert warmer.warm(study, series) is False  # an object was stored just now
    assert cached(archive) == set()
