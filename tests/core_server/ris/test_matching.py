"""Images to exams on SQLite and PostgreSQL: matched by accession number, requested procedure
ID or the worklist's Study Instance UID; the others on the reconciliation list, linked by hand
(rewriting the stored objects), split and merged; patient updates and merges reach the images."""

from __future__ import annotations

from pydicom import dcmread
from pydicom.uid import generate_uid

from core_server.archive import Origin
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris
from tests.dicom_data import encode, make_ct


def _store(ris: Ris, **attributes: object) -> str:
    assert ris.archive is not None
    ds = make_ct(**{"patient_id": "P1", **attributes})  # type: ignore[arg-type]
    ris.archive.store_instance(encode(ds), Origin("dimse", "CT01", "127.0.0.1"))
    return str(ds.StudyInstanceUID)


def _study(ris: Ris, uid: str) -> dict:
    assert ris.archive is not None
    (answer,) = ris.archive.find("STUDY", {"StudyInstanceUID": uid})
    return answer


def _setup(ris: Ris):
    ris.register_patient(PatientIn("P1", "张三"), username="reg")
    return ris.place_order(
        "P1",
        "",
        OrderIn("O1", (ProcedureRequest("CT-CHEST"), ProcedureRequest("CT-HEAD"))),
        username="reg",
    ).exams


def test_images_match_their_exam(ris: Ris) -> None:
    chest, head = _setup(ris)
    # By accession number, under the modality's own study UID: two instances, one study.
    study = generate_uid()
    for number in (1, 2):
        _store(ris, study_uid=study, accession=chest.accession_number, instance_number=number)
    assert ris.exam(chest.id).images == 2
    assert ris.exam(chest.id).studies == (study,)
    # By the Study Instance UID the worklist gave, accession left empty.
    _store(ris, study_uid=head.study_instance_uid, accession="")
    assert ris.exam(head.id).images == 1
    # By requested procedure ID in the Request Attributes Sequence.
    from pydicom import Dataset

    request = Dataset()
    request.RequestedProcedureID = head.requested_procedure_id
    _store(ris, accession="", RequestAttributesSequence=[request])
    assert ris.exam(head.id).images == 2
    assert ris.unmatched() == []
    listed = {e.id: e.images for e in ris.exams(patient_id="P1")}
    assert listed == {chest.id: 2, head.id: 2}
    # The right accession number on another patient's images: a person decides.
    wrong = _store(ris, patient_id="P7", accession=chest.accession_number)
    assert [u.study_instance_uid for u in ris.unmatched()] == [wrong]
    assert ris.exam(chest.id).images == 2


def test_unmatched_study_is_linked_by_hand(ris: Ris) -> None:
    chest, _head = _setup(ris)
    stray = _store(ris, patient_id="TMP01", patient_name="UNKNOWN", accession="X999")
    _store(ris, patient_id="TMP01", patient_name="UNKNOWN", accession="X999", study_uid=stray)
    (waiting,) = ris.unmatched()
    assert (waiting.study_instance_uid, waiting.patient_id, waiting.instances) == (
        stray,
        "TMP01",
        2,
    )
    linked = ris.link_study(stray, chest.id, username="tech", reason="emergency, no order yet")
    assert linked.images == 2
    answer = _study(ris, stray)
    assert answer["PatientID"] == "P1"
    assert answer["AccessionNumber"] == chest.accession_number
    assert answer["PatientName"] == "ZHANG^SAN=张^三"
    assert ris.unmatched() == []
    (resolved,) = ris.unmatched(include_resolved=True)
    assert (resolved.exam_id, resolved.resolved_by) == (chest.id, "tech")
    # An image of that study arriving after the link, still with the modality's identity.
    late = make_ct(patient_id="TMP01", patient_name="UNKNOWN", accession="X999", study_uid=stray)
    assert ris.archive is not None
    ris.archive.store_instance(encode(late), Origin("dimse", "CT01", "127.0.0.1"))
    (stored,) = ris.archive.locate({"SOPInstanceUID": str(late.SOPInstanceUID)})
    written = dcmread(stored.path)
    assert (written.PatientID, written.AccessionNumber) == ("P1", chest.accession_number)
    assert str(written.PatientName) == "ZHANG^SAN=张^三"
    assert ris.exam(chest.id).images == 3


def test_split_and_merge_studies(ris: Ris) -> None:
    chest, head = _setup(ris)
    # One study holding a chest series and a head series (two exams done in one go).
    both = generate_uid()
    head_series = generate_uid()
    _store(ris, study_uid=both, accession=chest.accession_number)
    _store(ris, study_uid=both, series_uid=head_series, accession=chest.accession_number)
    assert ris.exam(chest.id).images == 2
    after = ris.split_study(both, [head_series], head.id, username="tech")
    assert after.images == 1
    assert ris.exam(chest.id).images == 1
    assert ris.archive is not None
    (series,) = ris.archive.find("SERIES", {"SeriesInstanceUID": head_series})
    assert series["StudyInstanceUID"] == head.study_instance_uid
    assert series["AccessionNumber"] == head.accession_number
    # The chest exam acquired as two studies: merge the second into the first.
    second = _store(ris, accession=chest.accession_number)
    assert ris.exam(chest.id).images == 2
    merged = ris.merge_studies(second, chest.id, username="tech")
    assert merged.images == 2
    assert ris.archive.count("STUDY", {"StudyInstanceUID": second}) == 0
    # A late image of the merged study joins the exam's study too.
    _store(ris, study_uid=second, accession=chest.accession_number)
    assert ris.archive.count("STUDY", {"StudyInstanceUID": second}) == 0
    (target,) = ris.exam(chest.id).studies
    assert all(
        dcmread(f.path).StudyInstanceUID == target
        for f in ris.archive.locate({"StudyInstanceUID": target})
    )
    assert ris.exam(chest.id).images == 3


def test_patient_update_and_merge_reach_the_images(ris: Ris) -> None:
    chest, _ = _setup(ris)
    study = _store(ris, patient_id="P1", patient_name="ZHANG^SAN", accession=chest.accession_number)
    ris.update_patient("P1", "", PatientIn("P1", "张珊", sex="F"), username="hl7")
    answer = _study(ris, study)
    assert answer["PatientName"] == "ZHANG^SHAN=张^珊"
    assert answer["PatientSex"] == "F"
    ris.register_patient(PatientIn("P2", "张珊", sex="F"), username="reg")
    other = _store(ris, patient_id="P2", patient_name="ZHANG^SHAN", accession="NONE")
    ris.merge_patients(("P1", ""), ("P2", ""), username="hl7")
    assert _study(ris, other)["PatientID"] == "P1"


def test_images_before_their_order_are_linked_when_it_arrives(ris: Ris) -> None:
    ris.register_patient(PatientIn("P1", "张三"), username="reg")
    early = _store(ris, accession="ER0001")
    assert [u.study_instance_uid for u in ris.unmatched()] == [early]
    exam = ris.place_order(
        "P1",
        "",
        OrderIn("O9", (ProcedureRequest("CT-HEAD", accession_number="ER0001"),)),
        username="hl7",
    ).exams[0]
    assert ris.unmatched() == []
    assert ris.exam(exam.id).images == 1
    assert _study(ris, early)["PatientName"] == "ZHANG^SAN=张^三"
