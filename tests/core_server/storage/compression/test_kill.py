"""Kill -9 mid-recompression (SQLite and PostgreSQL): a separate process works the compression
jobs (JPEG-LS lossless) of 40 objects and is killed with SIGKILL three times at different
points; after each restart's recovery every object is readable through the index with its
pixels identical to the original, and no file is left that the index does not name (no
orphan, none missing). A restarted worker then finishes every job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import JPEGLSLossless

from core_server import db
from core_server.archive import Archive, Origin, recompress
from core_server.storage.compression import codecs
from core_server.storage.compression.service import QUEUE, Compression
from tests.dicom_data import encode, make_ct

CHILD = """
import sys
from pathlib import Path
from core_server import db
from core_server.archive import Archive, recompress
from core_server.storage.compression.service import QUEUE, Compression

engine = db.make_engine(sys.argv[1])
archive = Archive(engine, Path(sys.argv[2]))
worker = Compression(engine, archive.storage)
recompress.recover(engine, archive.storage)
QUEUE.release_gone(engine)
print("ready", flush=True)
while worker.run_one():
    pass
"""


@pytest.fixture
def archive(database_url: str, tmp_path: Path) -> Iterator[Archive]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        yield Archive(engine, tmp_path / "storage")
    finally:
        engine.dispose()


def _done(worker: Compression) -> int:
    return worker.counts().get("done", 0)


def _restart_checks(archive: Archive, originals: dict[str, np.ndarray]) -> None:
    """What a restarted core does first (the journal's recovery, dead claims released), then:
    every object reads back with its pixels, and the files are exactly the indexed ones."""
    recompress.recover(archive.engine, archive.storage)
    QUEUE.release_gone(archive.engine)
    assert archive.verify() == {"missing": [], "orphans": []}
    for uid, pixels in originals.items():
        (found,) = archive.locate({"SOPInstanceUID": uid})
        assert np.array_equal(dcmread(found.path).pixel_array, pixels), uid


def test_kill_minus_nine_mid_recompression(archive: Archive, database_url: str) -> None:
    originals: dict[str, np.ndarray] = {}
    for n in range(30):
        ds = make_ct(instance_number=n + 1, size=64)
        stored = archive.store_instance(encode(ds), Origin("dimse", "CT01"))
        originals[stored.sop_instance_uid] = ds.pixel_array
    worker = Compression(archive.engine, archive.storage)
    for uid in originals:
        worker.queue_by_hand(uid, codecs.Target(str(JPEGLSLossless)))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[4])}
    for kill_after in (3, 12, 21):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, database_url, str(archive.storage.root)],
            stdout=subprocess.PIPE,
            env=env,
        )
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
            while _done(worker) < kill_after and child.poll() is None:
                time.sleep(0.01)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        assert _done(worker) < len(originals)  # killed before the end
        _restart_checks(archive, originals)
    while worker.run_one():
        pass
    # A kill between the file's replacement and the job's "done" leaves that object already
    # compressed: its job, run again, finds nothing to do ("left"), at most one per kill.
    counts = worker.counts()
    assert counts.get("done", 0) + counts.get("left", 0) == len(originals), counts
    assert counts.get("left", 0) <= 3, counts
    _restart_checks(archive, originals)
    syntaxes = {f.transfer_syntax_uid for f in archive.locate({"PatientID": "P001"})}
    assert syntaxes == {str(JPEGLSLossless)}
