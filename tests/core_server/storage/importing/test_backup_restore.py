"""The archive's backup and its restore on a "new machine", on each database: objects stored
by C-STORE, backed up (database + files, encrypted to an age key), one more stored and backed
up again (only the new file copied), restored into a fresh data dir (and a fresh PostgreSQL
database), a core started on it: C-FIND answers the same, C-GET returns identical bytes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid
from pyrage import x25519

from core_server import cli
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import dcmtk, getscu, keys, peer
from tests.dicom_data import make_ct, testdata, write

FIND_KEYS = dict(
    QueryRetrieveLevel="IMAGE",
    PatientID="BK-1",
    PatientName="",
    StudyInstanceUID="",
    SeriesInstanceUID="",
    SOPInstanceUID="",
    InstanceNumber="",
)


def objects(folder: Path, study: str) -> list[Path]:
    series = generate_uid()
    made = [
        write(
            make_ct(
                patient_id="BK-1",
                patient_name="Wang^Jianguo=王^建国",
                charset="ISO_IR 192",
                study_uid=study,
                series_uid=series,
                instance_number=n,
            ),
            folder,
        )
        for n in (1, 2, 3)
    ]
    jpeg_ls = dcmread(testdata("MR_small_jpeg_ls_lossless.dcm"))
    jpeg_ls.PatientID, jpeg_ls.StudyInstanceUID = "BK-1", study
    jpeg_ls.SOPInstanceUID = jpeg_ls.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    made.append(folder / "jls.dcm")
    jpeg_ls.save_as(made[-1])
    return made


def find(core: RunningCore, folder: Path) -> list[dict[str, str]]:
    """C-FIND (findscu, study root) answers as keyword -> value, in a stable order."""
    folder.mkdir(parents=True, exist_ok=True)
    dcmtk("findscu", "-S", "-X", "-od", folder, *keys(**FIND_KEYS), *peer(core))
    answers = []
    for path in sorted(folder.iterdir()):
        ds = dcmread(path)
        answers.append({k: str(ds.get(k, "")) for k in FIND_KEYS if k != "QueryRetrieveLevel"})
    return sorted(answers, key=lambda a: a["SOPInstanceUID"])


def get_study(core: RunningCore, study: str, folder: Path) -> list[Path]:
    return getscu(core, folder, QueryRetrieveLevel="STUDY", StudyInstanceUID=study)


def by_uid(paths: list[Path]) -> dict[str, bytes]:
    return {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID): p.read_bytes() for p in paths}


def cli_run(*argv: str) -> int:
    return cli.main(list(argv))


def test_backup_then_restore_on_a_new_machine(
    tmp_path: Path, database_url: str, request: pytest.FixtureRequest
) -> None:
    key = x25519.Identity.generate()
    identity = tmp_path / "hospital-it.key"
    identity.write_text(str(key) + "\n")
    old_dir, dest = tmp_path / "old", tmp_path / "backup"
    study = generate_uid()
    sent = objects(tmp_path / "sent", study)
    first = RunningCore(old_dir, database_url).start()
    try:
        for client in ("FINDSCU", "GETSCU"):  # kept in the database: restored with it
            first.register(client)
        dcmtk("storescu", "-xs", *peer(first), *sent[:3])
        dcmtk("storescu", "-xt", *peer(first), sent[3])  # JPEG-LS, stored as sent
        db_args = ["--data-dir", str(old_dir), "--database-url", database_url]
        scans = old_dir / "ris" / "requisitions"  # the RIS's files come along too
        scans.mkdir(parents=True)
        (scans / "kept.pdf").write_bytes(b"%PDF-1.4 kept")
        (scans / "removed.pdf").write_bytes(b"%PDF-1.4 removed before the second backup")
        assert (
            cli_run("storage", "backup", str(dest), "--encrypt-to", str(key.to_public()), *db_args)
            == 0
        )
        (scans / "removed.pdf").unlink()
        extra = write(
            make_ct(patient_id="BK-1", study_uid=study, instance_number=4), tmp_path / "x"
        )
        dcmtk("storescu", *peer(first), extra)
        assert (
            cli_run("storage", "backup", str(dest), "--encrypt-to", str(key.to_public()), *db_args)
            == 0
        )
        before = find(first, tmp_path / "find-before")
        got_before = by_uid(get_study(first, study, tmp_path / "got-before"))
        originals = {
            a["SOPInstanceUID"]: f.path.read_bytes()
            for a in before
            for f in first.core.archive.locate({"SOPInstanceUID": a["SOPInstanceUID"]})
        }
    finally:
        first.stop()
    assert len(before) == 5
    with sqlite3.connect(dest / "manifest.sqlite") as manifest:
        runs = manifest.execute("SELECT copied, unchanged FROM runs ORDER BY id").fetchall()
    assert runs[0][0] == 6 and runs[1] == (1, 5)  # the second run copied the new one only
    assert not list((dest / "files").rglob("*.dcm"))  # encrypted at rest: only .age files

    new_dir = tmp_path / "new"
    new_url = (
        f"sqlite:///{new_dir / 'core.db'}"
        if database_url.startswith("sqlite")
        else request.getfixturevalue("postgres").new_database()
    )
    refused = cli_run(
        "storage", "restore", str(dest), "--data-dir", str(new_dir), "--database-url", new_url
    )
    assert refused == 2  # encrypted: the key is needed
    assert (
        cli_run(
            "storage",
            "restore",
            str(dest),
            "--identity",
            str(identity),
            "--data-dir",
            str(new_dir),
            "--database-url",
            new_url,
        )
        == 0
    )
    assert (new_dir / "ris" / "requisitions" / "kept.pdf").read_bytes() == b"%PDF-1.4 kept"
    assert not (new_dir / "ris" / "requisitions" / "removed.pdf").exists()  # gone at that run
    # After a PostgreSQL point-in-time recovery only the files are wanted: into another folder
    # for a database that has them all indexed (here the one just restored).
    other = tmp_path / "files-only"
    restore = ["storage", "restore", str(dest), "--identity", str(identity), "--files-only"]
    assert cli_run(*restore, "--data-dir", str(other), "--database-url", new_url) == 0
    assert not (other / "core.db").exists() and len(list((other / "storage").rglob("*.dcm"))) == 5
    second = RunningCore(new_dir, new_url).start()
    try:
        assert find(second, tmp_path / "find-after") == before
        got_after = by_uid(get_study(second, study, tmp_path / "got-after"))
        assert len(got_after) == 5
        assert got_after == got_before  # C-GET: the same bytes from the restored archive
        for uid, data in originals.items():
            stored = second.core.archive.locate({"SOPInstanceUID": uid})[0].path
            assert stored.read_bytes() == data
    finally:
        second.stop()
