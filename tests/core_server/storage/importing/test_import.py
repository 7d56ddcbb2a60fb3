"""A disc's import on each database: its DICOMDIR read and shown before anything is stored
(names in their three forms, GB18030 and UTF-8 sets), one foreign patient reconciled to our
RIS patient and exam (our ID, the foreign one in Other Patient IDs, Original Attributes with
reason COERCE), another kept with its IDs and re-keyed (mapping kept), a picture and a PDF
wrapped for the exam (valid by dciodvfy), a second store finding nothing new."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import httpx
import pytest
from PIL import Image
from pydicom import dcmread
from sqlalchemy import select, update

from core_server import db
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from core_server.storage.importing.tables import storage_import_files, storage_import_uids
from tests.conftest import RunningCore
from tests.dicom_data import make_ct, testdata, write

ARCHIBALD, PETER = "77654033", "98890234"


def disc(root: Path) -> Path:
    """pydicom's DICOMDIR with the files it names, a GB18030 and a UTF-8 object, a picture
    and a PDF: what a patient brings from another hospital."""
    source = testdata("DICOMDIR").parent
    cd = root / "media" / "cdrom"
    cd.mkdir(parents=True)
    shutil.copy(source / "DICOMDIR", cd / "DICOMDIR")
    for folder in ("77654033", "98892001", "98892003"):
        shutil.copytree(source / folder, cd / folder)
    for charset, pid in (("GB18030", "GB-1"), ("ISO_IR 192", "U8-1")):
        ct = make_ct(patient_id=pid, patient_name="Wang^Jianguo=王^建国", charset=charset)
        write(ct, cd / "EXTRA", f"{pid}.dcm")
    Image.new("RGB", (40, 30), (10, 120, 200)).save(cd / "letter.jpg")
    (cd / "report.pdf").write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    return cd


def test_import_a_disc(core_on: RunningCore, tmp_path: Path) -> None:
    ris = core_on.core.ris
    ris.register_patient(
        PatientIn("OUR-1", "王^建国", birth_date=date(1980, 1, 1), sex="M"), username="reg"
    )
    order = OrderIn("O-IMP-1", (ProcedureRequest("CT-CHEST"),))
    exam = ris.place_order("OUR-1", "", order, username="reg").exams[0]
    cd = disc(tmp_path)
    service = core_on.app.state.ctx.lifecycle.importing
    service.roots.append(tmp_path / "media")
    with core_on.api() as api:
        refused = api.post("/api/storage/imports", json={"source": str(tmp_path)})
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"]["code"] == "storage.importing.source_not_media"

        opened = api.post("/api/storage/imports", json={"source": str(cd), "label": "外院光盘"})
        assert opened.status_code == 201, opened.text
        session = opened.json()
        assert core_on.core.archive.statistics()["instances"] == 0  # shown, not stored
        by_id = {p["foreign_id"]: p for p in session["patients"]}
        assert set(by_id) == {ARCHIBALD, PETER, "GB-1", "U8-1"}
        assert by_id[ARCHIBALD]["name"] == "Archibald Doe"
        for pid in ("GB-1", "U8-1"):  # decoded by the object's own character set
            assert by_id[pid]["name"] == "王建国"
            assert by_id[pid]["name_pinyin"] == "WANG JIANGUO"
            assert by_id[pid]["name_dicom"] == "WANG^JIANGUO=王^建国"
        assert all("^" not in p["name"] for p in session["patients"])
        assert sum(s["instances"] for s in by_id[ARCHIBALD]["studies"]) == 7
        kinds = {d["kind"]: d["id"] for d in session["documents"]}
        assert set(kinds) == {"picture", "pdf"}
        sid = session["id"]

        premature = api.post(f"/api/storage/imports/{sid}/store")
        assert premature.status_code == 409
        assert premature.json()["detail"]["code"] == "storage.importing.undecided"

        found = api.get(f"/api/storage/imports/{sid}/patients/{by_id['GB-1']['id']}/candidates")
        assert [c["patient_id"] for c in found.json()] == ["OUR-1"]

        def decide(pid: str, **body: object) -> httpx.Response:
            url = f"/api/storage/imports/{sid}/patients/{by_id[pid]['id']}"
            return api.put(url, json=body)

        wrong = decide(ARCHIBALD, decision="match", patient_id="NOBODY")
        assert wrong.status_code == 404
        assert decide(ARCHIBALD, decision="match", patient_id="OUR-1", exam_id=exam.id).is_success
        assert decide(PETER, decision="keep", rekey=True).is_success
        assert decide("GB-1", decision="match", patient_id="OUR-1").is_success
        assert decide("U8-1", decision="skip").is_success
        attached = api.put(
            f"/api/storage/imports/{sid}/documents",
            json={"file_ids": list(kinds.values()), "exam_id": exam.id},
        )
        assert attached.is_success, attached.text

    done = service.store(sid, username="admin")  # the web's store runs on a thread; same code
    assert done["state"] == "done", done
    assert done["files"].get("failed", 0) == 0, done["failed"]
    assert done["files"]["stored"] == 7 + 24 + 1 + 2
    archive = core_on.core.archive

    # Archibald: ours now, the foreign ID kept, the change recorded, linked to the exam.
    ours = archive.locate({"PatientID": "OUR-1"})
    assert len(ours) == 7 + 1 + 2
    images = [f for f in ours if f.sop_class_uid not in wrapped_classes()]
    first = dcmread(next(f.path for f in images if f.study_instance_uid != ct_study(cd)))
    assert str(first.PatientName) == "WANG^JIANGUO=王^建国"
    assert first.AccessionNumber == exam.accession_number
    assert [(i.PatientID, i.TypeOfPatientID) for i in first.OtherPatientIDsSequence] == [
        (ARCHIBALD, "TEXT")
    ]
    changed = first.OriginalAttributesSequence[-1]
    assert changed.ReasonForTheAttributeModification == "COERCE"
    assert changed.ModifiedAttributesSequence[0].PatientID == ARCHIBALD
    linked = ris.exam(exam.id)
    assert first.StudyInstanceUID in linked.studies
    # Matched without an exam: the other hospital's accession number is not kept as ours.
    gb = dcmread(next(f.path for f in images if f.study_instance_uid == ct_study(cd)))
    assert gb.AccessionNumber == ""
    assert gb.OriginalAttributesSequence[0].ModifiedAttributesSequence[0].AccessionNumber == "A001"

    # Peter: his own IDs, new UIDs, the mapping kept.
    peter = archive.locate({"PatientID": PETER})
    assert len(peter) == 24
    foreign = {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in peter_files(cd)}
    assert not foreign & {f.sop_instance_uid for f in peter}
    with db.read(core_on.core.engine) as conn:
        mapped = {r.our_uid for r in conn.execute(select(storage_import_uids))}
    assert {f.sop_instance_uid for f in peter} <= mapped

    # The picture and the PDF: valid objects of the exam's patient and study.
    for f in ours:
        if f.sop_class_uid in wrapped_classes():
            result = subprocess.run(["dciodvfy", str(f.path)], capture_output=True, text=True)
            assert result.returncode == 0 and "Error" not in result.stderr, result.stderr
            assert dcmread(f.path).AccessionNumber == exam.accession_number

    # A run cut short before it recorded what it stored is run again: the same bytes come
    # out (coercion time, kept UID mapping, documents' UIDs from the session), all duplicates.
    before = archive.statistics()["instances"]
    with db.write(core_on.core.engine) as conn:
        conn.execute(
            update(storage_import_files)
            .where(storage_import_files.c.state == "stored")
            .values(state="pending")
        )
    again = service.store(sid, username="admin")
    assert again["state"] == "done"
    assert again["files"]["duplicate"] == 7 + 24 + 1 + 2, again
    assert archive.statistics()["instances"] == before


def wrapped_classes() -> set[str]:
    return {"1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.104.1"}


def ct_study(cd: Path) -> str:
    return str(dcmread(cd / "EXTRA" / "GB-1.dcm").StudyInstanceUID)


def peter_files(cd: Path) -> list[Path]:
    return [
        p
        for p in cd.rglob("*")
        if p.is_file()
        and p.name != "DICOMDIR"
        and p.suffix == ""
        and dcmread(p, stop_before_pixels=True).PatientID == PETER
    ]


@pytest.fixture(autouse=True)
def _no_dciodvfy_skip() -> None:
    assert shutil.which("dciodvfy"), "dicom3tools (dciodvfy) is needed"
