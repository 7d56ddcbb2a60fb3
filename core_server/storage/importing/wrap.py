"""Pictures and PDF scans brought on a disc or uploaded (a referral letter, a photo of an
outside film) wrapped as DICOM objects of an exam: JPEG/PNG as Secondary Capture Image
(highdicom's ``SCImage``; a baseline JPEG keeps its own bytes, encapsulated, not re-encoded),
PDF as Encapsulated PDF. The identity (patient, accession number, study) is the exam's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from io import BytesIO
from pathlib import Path

import highdicom as hd
import numpy as np
from PIL import Image
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    EncapsulatedPDFStorage,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
)
from pydicom.valuerep import DA, TM

from core_server import clock

MANUFACTURER = "imaging-appliance"
CHARSET = "ISO_IR 192"
IDENTITY = ("PatientID", "IssuerOfPatientID", "PatientName", "PatientBirthDate", "PatientSex")
STUDY = ("StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber")


class NotAPicture(ValueError):
    """A file that Pillow cannot read as a picture, or a PDF that is none."""


def picture(
    path: Path,
    identity: Mapping[str, str],
    *,
    series_uid: str,
    sop_uid: str,
    number: int,
    when: datetime,
) -> bytes:
    """The Secondary Capture object of one JPEG or PNG file (Part 10 bytes)."""
    try:
        image = Image.open(path)
        image.load()
    except Exception as exc:
        raise NotAPicture(str(exc)) from exc
    keep_jpeg = image.format == "JPEG" and image.mode in ("RGB", "L") and not _progressive(image)
    converted = image if image.mode in ("RGB", "L") else image.convert("RGB")
    pixels = np.asarray(converted)
    colour = converted.mode == "RGB"
    sc = hd.sc.SCImage(
        pixel_array=pixels,
        photometric_interpretation="RGB" if colour else "MONOCHROME2",
        bits_allocated=8,
        coordinate_system="PATIENT",
        patient_orientation=("L", "F"),  # highdicom asks one; emptied below (not known)
        study_instance_uid=identity["StudyInstanceUID"],
        series_instance_uid=series_uid,
        series_number=900,
        sop_instance_uid=sop_uid,
        instance_number=number,
        manufacturer=MANUFACTURER,
        patient_id=identity.get("PatientID") or None,
        patient_name=identity.get("PatientName") or None,
        patient_birth_date=identity.get("PatientBirthDate") or None,
        patient_sex=identity.get("PatientSex") or None,
        accession_number=identity.get("AccessionNumber") or None,
        study_id=identity.get("StudyID") or None,
        study_date=identity.get("StudyDate") or None,
        study_time=identity.get("StudyTime") or None,
    )
    sc.SpecificCharacterSet = CHARSET
    # Every time in the object is the import's (hospital time), so the same file wrapped again
    # is the same bytes (highdicom stamps its own "now").
    sc.ContentDate = DA(clock.dicom_date(when))
    sc.ContentTime = TM(clock.dicom_time(when))
    sc.DateOfSecondaryCapture, sc.TimeOfSecondaryCapture = sc.ContentDate, sc.ContentTime
    for item in sc.get("ContributingEquipmentSequence") or []:
        item.ContributionDateTime = clock.dicom_datetime(when)
    sc.PatientOrientation = ""  # type: ignore[assignment]  # type 2: a scanned letter or photo has no orientation
    sc.Laterality = ""  # type 2C (a paired body part): not known of a scan
    _common(sc, identity, when, "导入图片 Imported pictures")
    if keep_jpeg:
        _keep_jpeg(sc, path, colour)
    return _encode(sc)


def pdf(
    path: Path,
    identity: Mapping[str, str],
    *,
    series_uid: str,
    sop_uid: str,
    number: int,
    when: datetime,
) -> bytes:
    """The Encapsulated PDF object of one PDF file (Part 10 bytes)."""
    document = path.read_bytes()
    if not document.startswith(b"%PDF"):
        raise NotAPicture(f"{path.name}: not a PDF")
    ds = Dataset()
    ds.SpecificCharacterSet = CHARSET
    ds.SOPClassUID = EncapsulatedPDFStorage
    ds.SOPInstanceUID = sop_uid
    ds.Modality = "DOC"
    ds.ConversionType = "SD"  # scanned document
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 901
    ds.InstanceNumber = number
    ds.ReferringPhysicianName = ""
    for keyword in IDENTITY + STUDY:
        setattr(ds, keyword, identity.get(keyword, ""))
    ds.ContentDate, ds.ContentTime = clock.dicom_date(when), clock.dicom_time(when)
    ds.AcquisitionDateTime = clock.dicom_datetime(when)
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = path.stem[:64]
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = document + (b"\0" if len(document) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(document)
    _common(ds, identity, when, "导入文档 Imported documents")
    return _encode(ds)


def _common(ds: Dataset, identity: Mapping[str, str], when: datetime, series: str) -> None:
    ds.Manufacturer = MANUFACTURER
    ds.SeriesDescription = series
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime
    if identity.get("IssuerOfPatientID"):
        ds.IssuerOfPatientID = identity["IssuerOfPatientID"]
    if identity.get("RequestedProcedureID"):
        item = Dataset()
        item.RequestedProcedureID = identity["RequestedProcedureID"]
        item.AccessionNumber = identity.get("AccessionNumber", "")
        ds.RequestAttributesSequence = [item]


def _progressive(image: Image.Image) -> bool:
    return bool(image.info.get("progressive") or image.info.get("progression"))


def _keep_jpeg(sc: Dataset, path: Path, colour: bool) -> None:
    """The picture's own baseline JPEG bytes as the pixel data (no second lossy pass)."""
    sc.PixelData = encapsulate([path.read_bytes()])
    sc["PixelData"].VR = "OB"
    sc.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    if colour:
        sc.PhotometricInterpretation = "YBR_FULL_422"
    sc.LossyImageCompression = "01"
    sc.LossyImageCompressionMethod = "ISO_10918_1"


def _encode(ds: Dataset) -> bytes:
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ExplicitVRLittleEndian)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
