"""Kill -9 mid-migration: a separate process copies a study to S3 and removes each online
file once its copy is verified; killed while it works, it leaves no object without either
its online file or a verified copy that is really there (and the check finds nothing lost)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from core_server import db
from core_server.archive import Archive, copies
from core_server.archive.areas import check
from tests.core_server.storage.tiers.conftest import S3, store_study

WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from core_server import db
    from core_server.archive import Archive, copies
    url, online, study = sys.argv[1:4]
    archive = Archive(db.make_engine(url), Path(online))
    for answer in archive.find("IMAGE", {"StudyInstanceUID": study}):
        uid = answer["SOPInstanceUID"]
        if copies.copy_to(archive.engine, archive.areas, uid, "s3").verified:
            copies.drop_online(archive.engine, archive.areas, uid)
        print("moved", uid, flush=True)
    print("all", flush=True)
    """
)


def test_kill_9_mid_migration_loses_nothing(
    database_url: str, tmp_path: Path, s3_server: S3
) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    archive = Archive(engine, tmp_path / "online")
    study, objects = store_study(archive, 40)
    archive.areas.create(s3_server.spec(s3_server.new_bucket()))

    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, database_url, str(tmp_path / "online"), study],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[4],
    )
    assert worker.stdout is not None
    moved = 0
    for line in worker.stdout:
        moved += line.startswith("moved")
        if moved == 8:
            os.kill(worker.pid, signal.SIGKILL)
            break
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    gone = copies.not_online(engine, objects)
    assert len(gone) >= 8  # killed part-way (or just after the last)
    held = copies.copies_of_many(engine, objects)
    s3 = archive.areas.get("s3")
    for uid, data in objects.items():
        if uid in gone:
            verified = [c for c in held.get(uid, []) if c.verified]
            assert verified, f"{uid} dropped without a verified copy"
            assert s3.check(verified[0].key, len(data), verified[0].sha256)
        else:
            (answer,) = archive.find("IMAGE", {"SOPInstanceUID": uid})
            assert archive.storage.absolute(answer["_path"]).read_bytes() == data
    report = check.run(engine, archive.areas, sample=None, repair=True)
    assert [p for p in report.problems if not p.repaired] == []
    located = archive.locate({"StudyInstanceUID": study})
    assert {f.sop_instance_uid: f.path.read_bytes() for f in located} == objects
    engine.dispose()
