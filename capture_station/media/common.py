"""What every object the station writes carries: patient, study, series, equipment, the
acquisition moment in hospital time (with its offset from UTC) and the SOP identity."""

from __future__ import annotations

from datetime import datetime

from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, generate_uid

from capture_station.contract import Capture, Department, StationIdentity

MODALITY: dict[Department, str] = {"endoscopy": "ES", "ultrasound": "US", "photo": "XC"}
IMPLEMENTATION_VERSION = "IMAGING_APPL_1"


def taken(capture: Capture) -> datetime:
    """The capture's moment, aware (the station writes ISO 8601 with the hospital's offset)."""
    moment = datetime.fromisoformat(capture.taken_at)
    if moment.tzinfo is None:
        raise ValueError(f"taken_at {capture.taken_at!r} has no UTC offset")
    return moment


def offset(moment: datetime) -> str:
    """DICOM Timezone Offset From UTC: ``+0800``."""
    return moment.strftime("%z")


def base_dataset(
    capture: Capture, station: StationIdentity, sop_class: str, transfer_syntax: str
) -> Dataset:
    """A dataset with the file meta, patient, study, series, equipment and SOP modules."""
    exam = capture.exam
    moment = taken(capture)
    date, time = moment.strftime("%Y%m%d"), moment.strftime("%H%M%S.%f")
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(sop_class)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(capture.sop_instance_uid)
    ds.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: Chinese names as they are
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = capture.sop_instance_uid
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
    ds.TimezoneOffsetFromUTC = offset(moment)
    # Patient
    ds.PatientName = exam.patient_name
    ds.PatientID = exam.patient_id
    ds.PatientBirthDate = exam.birth_date.replace("-", "")
    ds.PatientSex = exam.sex
    # Study: the worklist's, so every capture lands in the exam's study.
    ds.StudyInstanceUID = exam.study_instance_uid or generate_uid()
    ds.StudyDate, ds.StudyTime = date, time
    ds.AccessionNumber = exam.accession_number
    ds.ReferringPhysicianName = exam.referring_physician
    # Study ID (type 2, but a DICOMDIR needs it): the accession number, as modalities do.
    ds.StudyID = (exam.accession_number or exam.scheduled_step_id)[:16]
    ds.StudyDescription = exam.requested_procedure[:64]
    # Series: one per capture kind and session, numbered by the station.
    ds.Modality = MODALITY.get(station.department, exam.modality or "OT")
    ds.SeriesInstanceUID = capture.series_instance_uid
    ds.SeriesNumber = 1 if capture.kind == "still" else 2
    ds.SeriesDate, ds.SeriesTime = date, time
    ds.OperatorsName = station.operator
    if exam.body_part:
        ds.BodyPartExamined = exam.body_part[:16]
    # Equipment
    ds.Manufacturer = station.manufacturer
    ds.InstitutionName = station.institution
    ds.StationName = station.station_name[:16]
    # Image / content moments
    ds.InstanceNumber = capture.instance_number
    ds.ContentDate, ds.ContentTime = date, time
    ds.AcquisitionDateTime = moment.strftime("%Y%m%d%H%M%S.%f") + offset(moment)
    ds.PatientOrientation = ""
    if capture.caption:
        ds.ImageComments = capture.caption[:10240]
    return ds


# DICOM Body Part Examined -> SNOMED CT (CID 4031 / 4040), for the Anatomic Region Sequence.
ANATOMY: dict[str, tuple[str, str]] = {
    "ABDOMEN": ("818981001", "Abdomen"),
    "BREAST": ("76752008", "Breast"),
    "BRONCHUS": ("955009", "Bronchus"),
    "CHEST": ("43799004", "Chest"),
    "COLON": ("71854001", "Colon"),
    "DUODENUM": ("38848004", "Duodenum"),
    "ESOPHAGUS": ("32849002", "Esophagus"),
    "HEART": ("80891009", "Heart"),
    "KIDNEY": ("64033007", "Kidney"),
    "LARYNX": ("4596009", "Larynx"),
    "LIVER": ("10200004", "Liver"),
    "PELVIS": ("12921003", "Pelvis"),
    "RECTUM": ("34402009", "Rectum"),
    "SKIN": ("39937001", "Skin"),
    "STOMACH": ("69695003", "Stomach"),
    "THYROID": ("69748006", "Thyroid"),
}
WHOLE_BODY = ("38266002", "Entire body")


def anatomic_region(body_part: str, required: bool) -> list[Dataset]:
    """The Anatomic Region Sequence item for the exam's body part; a video object needs one
    (type 1C), so an unknown body part is then coded as the entire body."""
    code = ANATOMY.get(body_part.upper())
    if code is None and not required:
        return []
    value, meaning = code or WHOLE_BODY
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "SCT", meaning
    return [item]
