"""The consistency check finds and repairs: a corrupt or missing online file (from a verified
copy), a bad copy (written again from the online file), a drop cut short; it reports an
object with neither; the last report is kept. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from core_server.archive import copies
from core_server.archive.areas import AreaSpec, check
from core_server.storage.tiers.integrity import Checker
from tests.core_server.storage.tiers.conftest import S3, Stored


def _kinds(report: check.Report) -> dict[str, str]:
    return {p.sop_instance_uid: p.kind for p in report.problems}


def test_corrupt_and_missing_online_files_repaired_from_copies(
    stored: Stored, s3_server: S3
) -> None:
    archive, engine = stored.archive, stored.engine
    archive.areas.create(s3_server.spec(s3_server.new_bucket()))
    first, second, _ = stored.objects
    for uid in stored.objects:
        copies.copy_to(engine, archive.areas, uid, "s3")
    corrupt = stored.online_path(first)
    corrupt.write_bytes(corrupt.read_bytes()[:-4] + b"oops")  # same size, other bytes
    stored.online_path(second).unlink()

    found = check.run(engine, archive.areas, sample=None)
    assert _kinds(found) == {first: "online_corrupt", second: "online_missing"}
    assert found.checked == 3 and found.repaired == 0
    assert corrupt.read_bytes() != stored.objects[first]  # a check without repair changes nothing

    repaired = check.run(engine, archive.areas, sample=None, repair=True)
    assert repaired.repaired == 2 and all(p.repaired for p in repaired.problems)
    for uid in (first, second):
        assert stored.online_path(uid).read_bytes() == stored.objects[uid]
    assert check.run(engine, archive.areas, sample=10).problems == []

    last = Checker(engine, archive.areas).last()
    assert last is not None and last.mode == "sample" and last.checked == 3


def test_bad_copy_rewritten_and_lost_object_reported(stored: Stored, tmp_path: Path) -> None:
    archive, engine = stored.archive, stored.engine
    (tmp_path / "nas").mkdir()
    archive.areas.create(AreaSpec("nas", "filesystem", str(tmp_path / "nas"), rank=5))
    first, second, third = stored.objects
    for uid in stored.objects:
        copies.copy_to(engine, archive.areas, uid, "nas")
    (tmp_path / "nas" / copies.copies_of_one(engine, first, "nas").key).unlink()
    assert copies.drop_online(engine, archive.areas, second)
    (tmp_path / "nas" / copies.copies_of_one(engine, second, "nas").key).unlink()  # lost
    assert copies.drop_online(engine, archive.areas, third)
    stored.online_path(third).write_bytes(stored.objects[third])  # as if the unlink never ran

    report = check.run(engine, archive.areas, sample=None, repair=True)
    problems = {(p.sop_instance_uid, p.kind): p.repaired for p in report.problems}
    assert problems == {
        (first, "copy_bad"): True,
        (second, "copy_bad"): False,
        (second, "lost"): False,
        (third, "marked_but_online"): True,
    }
    assert copies.copies_of_one(engine, first, "nas").verified
    assert not copies.copies_of_one(engine, second, "nas").verified
    assert copies.not_online(engine, stored.objects) == {second}


def test_a_sample_checks_that_many_distinct_objects(stored: Stored) -> None:
    report = check.run(stored.engine, stored.archive.areas, sample=2)
    assert report.mode == "sample" and report.checked == 2 and report.problems == []
    everything = check.run(stored.engine, stored.archive.areas, sample=50)
    assert everything.checked == 3
