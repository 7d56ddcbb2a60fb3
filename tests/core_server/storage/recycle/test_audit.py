"""A deletion's ``archive.deleted`` entry becomes an ATNA 110105 DICOM Study Deleted message
that the standard's schema accepts, naming the patient and accession from the entry's detail
once the study is gone (an admin's deletion and a rejection note's)."""

from __future__ import annotations

from lxml import etree
from pydicom.uid import generate_uid

from core_server.archive import Origin
from core_server.atna import codes, facts, messages
from core_server.auth import audit_after
from core_server.storage.recycle import iocm
from core_server.storage.recycle.service import RecycleBin
from tests.core_server.atna.receiver import schema
from tests.dicom_data import encode, make_ct

SOURCE = messages.Source("pacs.example.cn", "CORE_AE", "某市人民医院")


def test_deletions_are_valid_study_deleted_messages(recycle_bin: RecycleBin) -> None:
    archive = recycle_bin.archive
    study, series = generate_uid(), generate_uid()
    datasets = [
        make_ct(patient_id="AU1", accession="ACC-AU1", study_uid=study, series_uid=series)
        for _ in range(2)
    ]
    for ds in datasets:
        archive.store_instance(encode(ds), Origin("dimse", "TEST"))
    meaning = iocm.REJECTION_CODES["113037"]
    rejected = (str(datasets[0].SOPInstanceUID),)
    note = iocm.RejectionNote(generate_uid(), study, "113037", meaning, rejected)
    recycle_bin.reject(note)
    recycle_bin.delete("study", study, username="admin", reason="撤销")
    deleted = [e for e in audit_after(archive.engine, 0) if e.action == "archive.deleted"]
    assert [e.username for e in deleted] == [None, "admin"]
    rng = schema()
    for event in deleted:
        mapping = codes.mapping_of(event.action)
        assert mapping is not None
        xml = etree.fromstring(
            messages.build(event, mapping, SOURCE, facts.studies_of(archive, event))
        )
        assert rng.validate(xml), rng.error_log
        ident = xml.find("EventIdentification")
        assert ident.find("EventID").get("csd-code") == "110105"
        assert ident.get("EventActionCode") == "D"
        ids = {o.get("ParticipantObjectID") for o in xml.iter("ParticipantObjectIdentification")}
        assert {study, "AU1"} <= ids
    assert deleted[0].detail["rejection_code"] == "113037"
    assert deleted[1].detail["reason"] == "撤销"
