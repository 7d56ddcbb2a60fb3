"""The recycle bin's costs (docs/storage-recycle.md), in CPU time of this process (the
machine is shared): what its two ingest checks add per stored object (the IOCM refusal
look-up before the file is adopted; the rejection-note look-up on ``archive.instance_stored``,
and that subscriber when the event names the SOP class), and deleting and restoring a study.

    .venv/bin/python -m bench.recycle_bench [--images 500] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pydicom.uid import CTImageStorage, generate_uid

from core_server import db
from core_server.archive import Archive, Origin, recycle
from core_server.events import EventBus
from core_server.storage.recycle.service import RecycleBin
from tests.dicom_data import encode, make_ct


def _objects(count: int) -> tuple[str, list[bytes]]:
    study, series = generate_uid(), generate_uid()
    return study, [
        encode(make_ct(study_uid=study, series_uid=series, instance_number=i + 1, size=64))
        for i in range(count)
    ]


def _store(archive: Archive, objects: list[bytes]) -> float:
    started = time.process_time()
    for data in objects:
        archive.store_instance(data, Origin("dimse", "BENCH"))
    return (time.process_time() - started) / len(objects) * 1000


class _ToldBus(EventBus):
    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        super().publish(topic, {**payload, "sop_class_uid": CTImageStorage})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'core.db'}"
        engine = db.make_engine(url)
        db.migrate(engine)
        # three rounds of each, interleaved: ingest without the refusal check, with it, and
        # with the bin's rejection-note subscriber too
        check = recycle.refuse_rejected
        plain = Archive(engine, Path(folder) / "plain", EventBus())
        bus = EventBus()
        archive = Archive(engine, Path(folder) / "bin", bus)
        recycle_bin = RecycleBin(engine, archive, bus)
        _store(plain, _objects(50)[1])  # warm up
        told = _ToldBus()  # as if the archive's event named the SOP class (asked of the lead)
        told_archive = Archive(engine, Path(folder) / "told", told)
        RecycleBin(engine, told_archive, told)
        times: dict[str, list[float]] = {"none": [], "check": [], "subscriber": [], "told": []}
        for _ in range(3):
            recycle.refuse_rejected = lambda engine, uid: None  # type: ignore[assignment]
            times["none"].append(_store(plain, _objects(args.images)[1]))
            recycle.refuse_rejected = check
            times["check"].append(_store(plain, _objects(args.images)[1]))
            times["subscriber"].append(_store(archive, _objects(args.images)[1]))
            times["told"].append(_store(told_archive, _objects(args.images)[1]))
        study, objects = _objects(args.images)
        _store(archive, objects)
        started = time.process_time()
        entry = recycle_bin.delete("study", study, username="bench", reason="bench")
        deleted = time.process_time() - started
        started = time.process_time()
        recycle_bin.restore(entry.id, username="bench")
        restored = time.process_time() - started
        engine.dispose()
    print(f"database: {url.split(':')[0]}, {args.images} images of 64x64")
    for name, values in times.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"store per image, {name}: median {statistics.median(values):.2f} ms ({shown})")
    print(f"delete the study to the bin: {deleted * 1000:.0f} ms")
    print(f"restore it: {restored * 1000:.0f} ms")


if __name__ == "__main__":
    main()
