"""IHE IOCM: a rejection note (a Key Object Selection Document titled with a CID 7011 code,
built with highdicom) sent by C-STORE takes the instances it lists out of the archive at once;
the note stays; a rejected instance sent again is refused (C-STORE and STOW-RS)."""

from __future__ import annotations

from typing import Any

import highdicom
from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from tests.conftest import RunningCore
from tests.core_server.storage.recycle.conftest import Study, encode, find, make_study, store

UID_CONFLICT = 0xC409


def rejection_note(study: Study, rejected: list[Dataset], title: Any) -> Dataset:
    return highdicom.ko.KeyObjectSelectionDocument(
        evidence=rejected,
        content=highdicom.ko.KeyObjectSelection(document_title=title, referenced_objects=rejected),
        series_instance_uid=generate_uid(),
        series_number=99,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="Test",
    )


def test_a_rejection_note_takes_its_instances_out(core: RunningCore, admin: Any) -> None:
    study = make_study("IOCM1")
    assert store(core, *study.images.values()) == [0, 0, 0]
    rejected = [study.images["CT-1"], study.images["CT-2"]]
    note = rejection_note(study, rejected, codes.DCM.RejectedForQualityReasons)
    assert str(note.ConceptNameCodeSequence[0].CodeValue) == "113001"
    assert store(core, note) == [0]

    answers = {str(a.SOPInstanceUID) for a in find(core, "IMAGE", StudyInstanceUID=study.uid)}
    assert answers == study.uids("MR-1") | {str(note.SOPInstanceUID)}  # the note is kept

    entries = [
        e
        for e in admin.get("/api/storage/recycle-bin").json()["entries"]
        if e["study_instance_uid"] == study.uid
    ]
    assert len(entries) == 1
    (entry,) = entries
    assert entry["instances"] == 2 and entry["level"] == "instance"
    assert entry["rejection_code"] == "113001"
    assert entry["reason"] == "Rejected for Quality Reasons"
    assert entry["rejection_note_uid"] == str(note.SOPInstanceUID)
    assert entry["username"] == ""

    # sent again: refused, by C-STORE and by STOW-RS
    assert store(core, study.images["CT-1"]) == [UID_CONFLICT]
    boundary = "recycle-test"
    body = (
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        + encode(study.images["CT-2"])
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = admin.post(
        "/dicom-web/studies",
        content=body,
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json",
        },
    )
    assert answer.status_code in (409, 202), answer.text
    failed = answer.json().get("00081198", {}).get("Value", [])
    assert failed and failed[0]["00081197"]["Value"] == [UID_CONFLICT]
    assert find(core, "IMAGE", SOPInstanceUID=str(study.images["CT-2"].SOPInstanceUID)) == []

    # restored by the admin, the images answer again (and may then be sent again)
    assert admin.post(f"/api/storage/recycle-bin/{entry['id']}/restore").status_code == 200
    answers = {str(a.SOPInstanceUID) for a in find(core, "IMAGE", StudyInstanceUID=study.uid)}
    assert study.uids() <= answers
    assert store(core, study.images["CT-1"]) == [0]


def test_a_key_object_of_another_title_changes_nothing(core: RunningCore) -> None:
    study = make_study("IOCM2")
    store(core, *study.images.values())
    note = rejection_note(study, [study.images["MR-1"]], codes.DCM.OfInterest)
    assert store(core, note) == [0]
    answers = {str(a.SOPInstanceUID) for a in find(core, "IMAGE", StudyInstanceUID=study.uid)}
    assert answers == study.uids() | {str(note.SOPInstanceUID)}
