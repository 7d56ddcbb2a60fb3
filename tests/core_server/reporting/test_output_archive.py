"""Signed reports in the PACS: a Comprehensive SR, an encapsulated PDF and (with key images) a
Key Object Selection in the exam's study, each in its own series, read back with pydicom,
found by C-FIND (findscu) and QIDO-RS; an amendment adds new objects and keeps the old; a
failed store is retried; the start-up sweep archives a signature whose event was lost."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom import Dataset, dcmread
from sqlalchemy import delete

from core_server import db
from core_server.reporting import Content
from core_server.reporting.output import ArchivedObject, report_output_objects
from tests.conftest import RunningCore
from tests.core_server.dicom.clients import dcmtk, keys, peer
from tests.core_server.reporting.output_data import CHIEF, signed_report

HOSPITAL = "测试市第一人民医院"


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    running = RunningCore(tmp_path_factory.mktemp("output") / "data", hospital_name=HOSPITAL)
    running.start()
    running.register("FINDSCU", allow_query=True)
    try:
        yield running
    finally:
        running.stop()


def archived(core: RunningCore, report_id: int, count: int) -> list[ArchivedObject]:
    """The report's objects once ``count`` are stored by the core's own background worker."""
    output = core.core.report_output
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stored = [o for o in output.objects(report_id) if o.status == "stored"]
        if len(stored) >= count:
            return stored
        time.sleep(0.1)
    raise AssertionError(f"not archived: {output.objects(report_id)}")


def read(core: RunningCore, obj: ArchivedObject) -> Dataset:
    found = core.core.archive.locate(
        {"StudyInstanceUID": obj.study_instance_uid, "SOPInstanceUID": obj.sop_instance_uid}
    )
    assert len(found) == 1
    return dcmread(found[0].path)


def texts(sr: Dataset) -> dict[str, str]:
    return {
        item.ConceptNameCodeSequence[0].CodeMeaning: item.TextValue
        for item in sr.ContentSequence
        if item.ValueType == "TEXT"
    }


def test_a_signed_report_is_archived_as_sr_and_pdf_in_the_exam_study(core: RunningCore) -> None:
    signed = signed_report(core, "P-ARCH-1")
    objects = {o.kind: o for o in archived(core, signed.report.id, 3)}
    study = signed.exam.study_instance_uid
    image_series = dcmread(
        core.core.archive.locate(
            {"StudyInstanceUID": study, "SOPInstanceUID": signed.image_uids[0]}
        )[0].path
    ).SeriesInstanceUID

    sr = read(core, objects["sr"])
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    assert sr.StudyInstanceUID == study and sr.AccessionNumber == signed.exam.accession_number
    assert sr.SeriesInstanceUID not in (image_series, objects["pdf"].series_instance_uid)
    assert sr.SpecificCharacterSet == "ISO_IR 192"
    assert sr.PatientName.ideographic == "张^三" and sr.PatientID == "P-ARCH-1"
    assert (sr.CompletionFlag, sr.VerificationFlag) == ("COMPLETE", "VERIFIED")
    assert str(sr.VerifyingObserverSequence[0].VerifyingObserverName) == "陈主任^"
    assert sr.InstitutionName == HOSPITAL
    content = texts(sr)
    assert "右肺上叶见一实性结节，大小约8mm，边缘光滑。" in content["Finding"]
    assert content["Impression"] == "右肺上叶结节，建议6个月后复查。"
    images = [i for i in sr.ContentSequence if i.ValueType == "IMAGE"]
    assert images[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == signed.image_uids[0]
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == study
    referenced = [
        i.ReferencedSOPInstanceUID
        for s in evidence.ReferencedSeriesSequence
        for i in s.ReferencedSOPSequence
    ]
    assert referenced == [signed.image_uids[0]]

    pdf = read(core, objects["pdf"])
    assert pdf.SOPClassUID == "1.2.840.10008.5.1.4.1.1.104.1"
    assert pdf.StudyInstanceUID == study and pdf.Modality == "DOC"
    assert pdf.MIMETypeOfEncapsulatedDocument == "application/pdf"
    document = bytes(pdf.EncapsulatedDocument)[: int(pdf.EncapsulatedDocumentLength)]
    assert document.startswith(b"%PDF-")
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(document)
        f.flush()
        text = subprocess.run(["pdftotext", f.name, "-"], capture_output=True, text=True).stdout
    assert HOSPITAL in text and "张三" in text and "纵隔内未见肿大淋巴结" in text

    # The key image as a Key Object Selection ("Of Interest"), for any viewer or PACS.
    kos = read(core, objects["ko"])
    assert kos.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.59" and kos.Modality == "KO"
    assert kos.StudyInstanceUID == study and kos.PatientName.ideographic == "张^三"
    assert kos.SeriesInstanceUID not in (image_series, sr.SeriesInstanceUID, pdf.SeriesInstanceUID)
    assert kos.ConceptNameCodeSequence[0].CodeValue == "113000"  # Of Interest
    selected = [
        i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        for i in kos.ContentSequence
        if i.ValueType == "IMAGE"
    ]
    assert selected == [signed.image_uids[0]]
    evidence = kos.CurrentRequestedProcedureEvidenceSequence[0]
    assert [
        i.ReferencedSOPInstanceUID
        for s in evidence.ReferencedSeriesSequence
        for i in s.ReferencedSOPSequence
    ] == [signed.image_uids[0]]


def test_without_key_images_there_is_no_key_object_selection(core: RunningCore) -> None:
    signed = signed_report(core, "P-ARCH-NOKEY", key_image=False)
    objects = archived(core, signed.report.id, 2)
    assert sorted(o.kind for o in core.core.report_output.objects(signed.report.id)) == [
        "pdf",
        "sr",
    ]
    assert {o.kind for o in objects} == {"sr", "pdf"}


def test_report_objects_are_found_by_c_find_and_qido(core: RunningCore, tmp_path: Path) -> None:
    signed = signed_report(core, "P-ARCH-2", name="李四")
    objects = {o.kind: o for o in archived(core, signed.report.id, 3)}
    study = signed.exam.study_instance_uid

    folder = tmp_path / "find"
    folder.mkdir()
    query = keys(
        QueryRetrieveLevel="SERIES", StudyInstanceUID=study, SeriesInstanceUID="", Modality=""
    )
    dcmtk("findscu", "-S", "-aet", "FINDSCU", "-X", "-od", folder, *query, *peer(core))
    answers = [dcmread(p) for p in sorted(folder.glob("rsp*.dcm"))]
    series = {a.SeriesInstanceUID: a.Modality for a in answers}
    assert series[objects["sr"].series_instance_uid] == "SR"
    assert series[objects["pdf"].series_instance_uid] == "DOC"
    assert series[objects["ko"].series_instance_uid] == "KO"
    assert "CT" in series.values()

    with httpx.Client(
        base_url=core.base_url, headers={"Authorization": f"Bearer {core.token()}"}
    ) as http:
        answer = http.get(f"/dicom-web/studies/{study}/instances", params={"Modality": "SR"})
        assert answer.status_code == 200
        uids = [item["00080018"]["Value"][0] for item in answer.json()]
        assert uids == [objects["sr"].sop_instance_uid]
        studies = http.get(
            "/dicom-web/studies", params={"AccessionNumber": signed.exam.accession_number}
        )
        modalities = studies.json()[0]["00080061"]["Value"]
        assert {"CT", "SR", "DOC"} <= set(modalities)


def test_an_amendment_adds_new_objects_and_keeps_the_old(core: RunningCore) -> None:
    signed = signed_report(core, "P-ARCH-3", name="王五")
    first = {o.kind: o for o in archived(core, signed.report.id, 3)}
    reporting = core.core.reporting
    reporting.amend(signed.report.id, CHIEF, "结节大小更正")
    reporting.save(
        signed.report.id, CHIEF, Content(findings="<p>右肺上叶见一实性结节，大小约6mm。</p>")
    )
    amended = reporting.sign(signed.report.id, CHIEF)
    everything = archived(core, signed.report.id, 6)
    newer = {o.kind: o for o in everything if o.version == amended.signed_version}
    assert set(newer) == {"sr", "pdf", "ko"}
    assert {o.sop_instance_uid for o in everything} >= {
        first["sr"].sop_instance_uid,
        first["pdf"].sop_instance_uid,
    }
    old_sr, new_sr = read(core, first["sr"]), read(core, newer["sr"])
    assert "8mm" in texts(old_sr)["Finding"] and "6mm" in texts(new_sr)["Finding"]
    assert new_sr.SeriesInstanceUID == old_sr.SeriesInstanceUID  # the report's own series
    predecessor = new_sr.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0]
    assert predecessor.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == old_sr.SOPInstanceUID


class FailingOnce:
    """The archive, except that its first store fails (a full disk, a database restart)."""

    def __init__(self, archive: Any) -> None:
        self.archive = archive
        self.failures = 0

    def store_instance(self, data: bytes, origin: Any) -> Any:
        if self.failures == 0:
            self.failures += 1
            raise OSError("No space left on device")
        return self.archive.store_instance(data, origin)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.archive, name)


def test_a_failed_store_is_retried_and_the_sweep_archives_lost_signatures(
    core: RunningCore,
) -> None:
    output = core.core.report_output
    output.stop()  # this test drives the worker's rounds itself
    real = output.archive
    try:
        output.archive = FailingOnce(real)
        signed = signed_report(core, "P-ARCH-4", name="赵六", key_image=False)
        assert output.run_due() == 1  # one of the two failed
        waiting = [o for o in output.objects(signed.report.id) if o.status == "pending"]
        assert len(waiting) == 1
        assert waiting[0].attempts == 1 and "No space left" in waiting[0].last_error
        assert output.run_due() == 0  # not due yet: it waits before the next attempt
        # The administrator sees it waiting, fixes the disk and has it tried at once.
        with httpx.Client(
            base_url=core.base_url, headers={"Authorization": f"Bearer {core.token()}"}
        ) as admin:
            (job,) = admin.get("/api/reporting/archive-jobs").json()
            assert (job["report_id"], job["attempts"]) == (signed.report.id, 1)
            assert "No space left" in job["last_error"] and job["next_attempt_at"]
            assert admin.post("/api/reporting/archive-jobs/retry").json() == {"objects": 1}
        assert output.run_due() == 1
        assert {o.status for o in output.objects(signed.report.id)} == {"stored"}

        # A signature whose event never reached the worker (the process stopped between the
        # commit and the event): the start-up sweep finds it.
        output.archive = real
        with db.write(core.core.engine) as conn:
            conn.execute(
                delete(report_output_objects).where(
                    report_output_objects.c.report_id == signed.report.id
                )
            )
        assert output.sweep() == 1
        assert output.run_due() == 2
        assert len(output.objects(signed.report.id)) == 2
    finally:
        output.archive = real
        output.start()


def test_a_report_joins_the_linked_study_that_holds_the_images(core: RunningCore) -> None:
    signed = signed_report(core, "P-ARCH-5", name="郑十一", own_study=False)
    objects = archived(core, signed.report.id, 2)
    image = core.core.archive.locate({"SOPInstanceUID": signed.image_uids[0]})[0]
    images_study = dcmread(image.path).StudyInstanceUID
    assert images_study != signed.exam.study_instance_uid
    assert images_study in signed.exam.studies
    assert {o.study_instance_uid for o in objects} == {images_study}
    assert read(core, objects[0]).AccessionNumber == signed.exam.accession_number
