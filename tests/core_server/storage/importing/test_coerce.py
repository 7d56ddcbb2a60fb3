"""Making a foreign object ours (``core_server.archive.importer.coerce``): the identity set,
the foreign ID kept once, the replaced values recorded with reason COERCE, a Latin-1 object
re-encoded as UTF-8 for a Chinese name, re-keyed UIDs followed by references, pixel data
untouched, nothing done when nothing differs."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid

from core_server.archive.importer import Coercion, coerce
from tests.dicom_data import encode, make_ct

WHEN = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
OURS = {"PatientID": "OUR-1", "PatientName": "WANG^JIANGUO=王^建国", "PatientSex": "M"}


def test_identity_foreign_id_and_original_attributes() -> None:
    ct = make_ct(patient_id="THEIRS", patient_name="Wang^Jianguo", charset="ISO_IR 100")
    pixels = ct.PixelData
    out = dcmread(BytesIO(coerce(encode(ct), Coercion(OURS, ("THEIRS", "HOSP-B")), WHEN)))
    assert out.SpecificCharacterSet == "ISO_IR 192"  # Latin-1 cannot hold 王建国
    assert (out.PatientID, str(out.PatientName)) == ("OUR-1", "WANG^JIANGUO=王^建国")
    assert [(i.PatientID, i.IssuerOfPatientID) for i in out.OtherPatientIDsSequence] == [
        ("THEIRS", "HOSP-B")
    ]
    (item,) = out.OriginalAttributesSequence
    assert item.ReasonForTheAttributeModification == "COERCE"
    old = item.ModifiedAttributesSequence[0]
    assert (old.PatientID, str(old.PatientName)) == ("THEIRS", "Wang^Jianguo")
    assert "PatientSex" not in old  # the same value: not replaced, not recorded
    assert out.PixelData == pixels
    again = coerce(encode(out), Coercion(OURS, ("THEIRS", "HOSP-B")), WHEN)
    assert again == encode(out)  # already ours: unchanged bytes, the foreign ID not twice


def test_rekey_follows_references() -> None:
    image = make_ct(patient_id="THEIRS")
    kos = make_ct(patient_id="THEIRS", study_uid=image.StudyInstanceUID)  # refers to image
    reference = Dataset()
    reference.ReferencedSOPClassUID = image.SOPClassUID
    reference.ReferencedSOPInstanceUID = image.SOPInstanceUID
    kos.CurrentRequestedProcedureEvidenceSequence = [reference]
    known = {image.StudyInstanceUID, image.SeriesInstanceUID, image.SOPInstanceUID}
    mapping: dict[str, str] = {}

    def new_uid(uid: str) -> str | None:
        return mapping.setdefault(uid, generate_uid()) if uid in known else None

    out = dcmread(BytesIO(coerce(encode(kos), Coercion({}, None, new_uid), WHEN)))
    referenced = out.CurrentRequestedProcedureEvidenceSequence[0]
    assert referenced.ReferencedSOPInstanceUID == mapping[image.SOPInstanceUID]
    assert referenced.ReferencedSOPClassUID == image.SOPClassUID  # a class UID is no key
    assert out.StudyInstanceUID == mapping[image.StudyInstanceUID]
    assert out.SOPInstanceUID == kos.SOPInstanceUID  # not one of the known UIDs
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    old = out.OriginalAttributesSequence[0].ModifiedAttributesSequence[0]
    assert old.StudyInstanceUID == image.StudyInstanceUID
