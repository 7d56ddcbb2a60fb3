"""``core-server storage import`` (dry run, then as our patient) and browser uploads (a zip
whose names try to leave their folder, a damaged zip), on each database, without a running
core."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid

from core_server import cli, db
from core_server.archive import Archive
from core_server.refusals import Invalid
from core_server.ris import PatientIn, Ris
from core_server.storage.importing.service import ImportService
from tests.dicom_data import encode, make_ct, write


def test_cli_import_as_our_patient(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    engine = db.make_engine(database_url)
    db.migrate(engine)
    archive = Archive(engine, data / "storage")
    Ris(engine, archive.bus, archive).register_patient(PatientIn("OUR-9", "赵^敏"), username="reg")
    engine.dispose()
    folder = tmp_path / "usb"
    study = generate_uid()
    for n in (1, 2):
        ct = make_ct(
            patient_id="THEIRS-3", patient_name="Zhao^Min", study_uid=study, instance_number=n
        )
        write(ct, folder)
    args = ["--data-dir", str(data), "--database-url", database_url]

    assert cli.main(["storage", "import", str(folder), "--dry-run", *args]) == 0
    shown = capsys.readouterr().out
    assert "THEIRS-3  Zhao Min" in shown and "1 studies, 2 instances" in shown

    assert cli.main(["storage", "import", str(folder), "--as", "OUR-9", *args]) == 0
    assert "stored 2" in capsys.readouterr().out
    engine = db.make_engine(database_url)
    try:
        files = Archive(engine, data / "storage").locate({"PatientID": "OUR-9"})
        assert len(files) == 2
        first = dcmread(files[0].path)
        assert first.OtherPatientIDsSequence[0].PatientID == "THEIRS-3"
        assert str(first.PatientName) == "ZHAO^MIN=赵^敏"
    finally:
        engine.dispose()


def test_uploads_stay_in_their_folder(tmp_path: Path, database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    archive = Archive(engine, tmp_path / "storage")
    service = ImportService(engine, archive, None, archive.bus, tmp_path / "imports")
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as z:
        z.writestr("../../../outside.dcm", encode(make_ct(patient_id="Z1")))
        z.writestr("/etc/abs.dcm", encode(make_ct(patient_id="Z2")))
    packed.seek(0)
    loose = io.BytesIO(encode(make_ct(patient_id="Z3")))
    try:
        session = service.open_upload(
            [("disc.zip", packed), ("../x/../loose.dcm", loose)], username="reg"
        )
        assert {p["foreign_id"] for p in session["patients"]} == {"Z1", "Z2", "Z3"}
        assert not (tmp_path / "outside.dcm").exists()
        assert all(
            Path(session["source"]) in p.parents for p in (tmp_path / "imports").rglob("*.dcm")
        )
        with pytest.raises(Invalid) as refused:
            service.open_upload([("bad.zip", io.BytesIO(b"PK\x03\x04 not really"))], username="reg")
        assert refused.value.code == "storage.importing.bad_zip"
        with pytest.raises(Invalid):
            service.open_upload([], username="reg")
    finally:
        engine.dispose()
