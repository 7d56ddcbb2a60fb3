"""WADO-RS metadata: each instance's DICOM JSON, from the cache table or encoded from its file
(and then cached)."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence

from pydicom import Dataset
from sqlalchemy import Engine, delete, insert, select

from core_server import db
from core_server.archive import InstanceFile
from core_server.dicomweb.dicom_json import dataset_json, dumps
from core_server.dicomweb.instances import header
from core_server.dicomweb.tables import instance_metadata

log = logging.getLogger(__name__)
_BATCH = 500


def instance_prefix(ds: Dataset) -> str:
    """An instance's URI relative to the DICOMweb root."""
    return (
        f"studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
    )


def encode_instance(f: InstanceFile) -> str:
    """One stored object's DICOM JSON, its BulkDataURIs relative to the DICOMweb root."""
    ds = header(f.path)
    pixel_vr = None
    if "Rows" in ds and "Columns" in ds:
        syntax = ds.file_meta.TransferSyntaxUID
        pixel_vr = "OB" if syntax.is_encapsulated or int(ds.get("BitsAllocated", 8)) <= 8 else "OW"
    return dumps(dataset_json(ds, instance_prefix(ds), pixel_data=pixel_vr))


def instances_json(engine: Engine, files: Sequence[InstanceFile]) -> list[str]:
    """The encoded DICOM JSON of each file, in order; cached ones are not read again."""
    stamps = [_stamp(f) for f in files]
    cached: dict[str, tuple[str, bytes]] = {}
    uids = [f.sop_instance_uid for f in files]
    with db.read(engine) as conn:
        for start in range(0, len(uids), _BATCH):
            rows = conn.execute(
                select(instance_metadata).where(
                    instance_metadata.c.sop_instance_uid.in_(uids[start : start + _BATCH])
                )
            )
            cached.update((r.sop_instance_uid, (r.stamp, r.json)) for r in rows)
    texts: list[str] = []
    fresh: list[dict[str, object]] = []
    for f, stamp in zip(files, stamps, strict=True):
        hit = cached.get(f.sop_instance_uid)
        if hit is not None and hit[0] == stamp:
            texts.append(zlib.decompress(hit[1]).decode())
            continue
        text = encode_instance(f)
        texts.append(text)
        fresh.append(
            {
                "sop_instance_uid": f.sop_instance_uid,
                "stamp": stamp,
                "json": zlib.compress(text.encode(), 6),
            }
        )
    if fresh:
        _remember(engine, fresh)
    return texts


def _stamp(f: InstanceFile) -> str:
    try:
        st = f.path.stat()
    except OSError:
        return f"{f.path}|missing"
    return f"{f.path}|{st.st_size}|{st.st_mtime_ns}"[-300:]


def _remember(engine: Engine, rows: list[dict[str, object]]) -> None:
    """Cache newly encoded instances; a failure (say, a concurrent request caching the same
    ones) only costs encoding them again next time."""
    try:
        with db.write(engine) as conn:
            uids = [r["sop_instance_uid"] for r in rows]
            for start in range(0, len(uids), _BATCH):
                conn.execute(
                    delete(instance_metadata).where(
                        instance_metadata.c.sop_instance_uid.in_(uids[start : start + _BATCH])
                    )
                )
            conn.execute(insert(instance_metadata), rows)
    except Exception:
        log.warning("cannot cache DICOM JSON of %d instances", len(rows), exc_info=True)
