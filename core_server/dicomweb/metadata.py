"""WADO-RS metadata: each instance's DICOM JSON, from the cache table or encoded from its file
(and then cached)."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydicom import Dataset
from sqlalchemy import Engine, delete, insert, select

from core_server import db
from core_server.archive import InstanceFile
from core_server.dicomweb.dicom_json import dataset_json, dumps
from core_server.dicomweb.instances import header
from core_server.dicomweb.tables import instance_metadata
from core_server.dicomweb.video import is_video

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
    out = dataset_json(ds, instance_prefix(ds), pixel_data=pixel_vr)
    stored = str(ds.file_meta.get("TransferSyntaxUID", ""))
    if is_video(stored):
        # Available Transfer Syntax UID: OHIF's dicom-video extension plays an instance only
        # when it sees an MPEG-4 syntax here.
        out["00083002"] = {"vr": "UI", "Value": [stored]}
    return dumps(out)


@dataclass
class Metadata:
    texts: list[str] = field(default_factory=list)  # each instance's encoded JSON, in order
    skipped: list[str] = field(default_factory=list)  # what could not be read, and why


def instances_json(engine: Engine, files: Sequence[InstanceFile]) -> Metadata:
    """The encoded DICOM JSON of each file, in order; cached ones are not read again. A stored
    object that cannot be read at all (its file gone or broken) is left out with a logged
    warning, never failing the others: one odd object must not hide a whole study."""
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
    found = Metadata()
    fresh: list[dict[str, object]] = []
    for f, stamp in zip(files, stamps, strict=True):
        hit = cached.get(f.sop_instance_uid)
        if hit is not None and hit[0] == stamp:
            found.texts.append(zlib.decompress(hit[1]).decode())
            continue
        try:
            text = encode_instance(f)
        except Exception as exc:
            log.warning("metadata: cannot read %s (%s)", f.path, exc, exc_info=True)
            found.skipped.append(f"{f.sop_instance_uid}: cannot be read ({type(exc).__name__})")
            continue
        found.texts.append(text)
        fresh.append(
            {
                "sop_instance_uid": f.sop_instance_uid,
                "stamp": stamp,
                "json": zlib.compress(text.encode(), 6),
            }
        )
    if fresh:
        _remember(engine, fresh)
    return found


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
