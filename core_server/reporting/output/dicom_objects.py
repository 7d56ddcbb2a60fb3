"""Signed reports as DICOM objects for the archive: a Comprehensive SR (highdicom) with the
findings, impression, structured answers and key-image references, an Encapsulated PDF of
the printed layout, and, when the doctor chose key images, a Key Object Selection (IHE Key
Image Note: "Of Interest") that any viewer or PACS shows as the study's key images. All go into
the exam's study (its Study Instance UID), each kind in its own series; an amendment is a new
instance (the SR's names the one it supersedes).

Patient and study attributes are copied from an image of the study already in the archive
(so the report sits with its images whatever the RIS says now), or from the RIS when the study
has no images yet: the patient's name as a DICOM Person Name (``WANG^JIANGUO=王^建国``, by
:meth:`core_server.names.PersonName.dicom`), dates and times in the hospital's zone. Text is
UTF-8 (ISO_IR 192): names and reports are Chinese."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from io import BytesIO

import highdicom as hd
from pydicom import Dataset, dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import DA, TM

from core_server import clock
from core_server.reporting.output.source import SignedReport
from core_server.reporting.text import plain

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
CHARSET = "ISO_IR 192"
MANUFACTURER = "Imaging appliance"
SR_SERIES_NUMBER = 9001
PDF_SERIES_NUMBER = 9002
KOS_SERIES_NUMBER = 9003
# Private coding scheme of this appliance for template fields (no standard code exists for
# most of them: "TI-RADS 成分", "结节最大径"...).
LOCAL_SCHEME = "99IMGAPP"

REPORT_TITLE = hd.sr.CodedConcept("18748-4", "LN", "Diagnostic imaging report")
FINDINGS = hd.sr.CodedConcept("121071", "DCM", "Finding")
IMPRESSION = hd.sr.CodedConcept("121073", "DCM", "Impression")
KEY_IMAGE = hd.sr.CodedConcept("113000", "DCM", "Of Interest")
STUDY_ATTRIBUTES = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)


def series_uid(study_uid: str, kind: str) -> str:
    """The report series of a study: the same for every version, derived, not stored."""
    return generate_uid(entropy_srcs=[study_uid, f"report-{kind}"])


def study_header(signed: SignedReport, images: Sequence[Dataset]) -> Dataset:
    """Patient and study attributes: from a stored image of the study if there is one."""
    header = Dataset()
    if images:
        for keyword in STUDY_ATTRIBUTES:
            if keyword in images[0]:
                setattr(header, keyword, images[0].data_element(keyword).value)  # type: ignore[union-attr]
    report, exam = signed.report, signed.exam
    header.StudyInstanceUID = header.get("StudyInstanceUID") or signed.study_instance_uid
    if "PatientID" not in header:
        header.PatientID = report.patient_id
        if report.issuer:
            header.IssuerOfPatientID = report.issuer
        header.PatientName = signed.person_name.dicom()
        birth = signed.birth_date
        header.PatientBirthDate = birth.strftime("%Y%m%d") if birth else ""
        header.PatientSex = signed.sex if signed.sex in ("M", "F", "O") else ""
        header.AccessionNumber = report.accession_number
        at = exam.scheduled_at or exam.created_at if exam is not None else report.created_at
        header.StudyDate = clock.dicom_date(at)
        header.StudyTime = clock.dicom_time(at)
        header.StudyID = report.accession_number[-16:]
        header.ReferringPhysicianName = ""
    for keyword in ("PatientBirthDate", "PatientSex", "StudyID", "StudyDate", "StudyTime"):
        if keyword not in header:
            setattr(header, keyword, "")
    return header


def _person(name: str) -> str:
    """A PN for a doctor known by one display name (陈主任: a title is no given name, so it is
    not split into components)."""
    return name if "^" in name else f"{name}^"


def build_sr(
    signed: SignedReport,
    header: Dataset,
    key_images: Sequence[Dataset],
    *,
    sop_instance_uid: str,
    institution: str,
    signer_name: str,
    previous: Sequence[Dataset] = (),
) -> Dataset:
    """The Comprehensive SR of one signed version."""
    version = signed.version
    items: list[hd.sr.ContentItem] = [
        hd.sr.TextContentItem(
            FINDINGS, plain(version.findings) or "-", hd.sr.RelationshipTypeValues.CONTAINS
        ),
        hd.sr.TextContentItem(
            IMPRESSION, plain(version.impression) or "-", hd.sr.RelationshipTypeValues.CONTAINS
        ),
    ]
    for number, (label, value) in enumerate(signed.field_rows, start=1):
        items.append(
            hd.sr.TextContentItem(
                hd.sr.CodedConcept(f"F{number:03d}", LOCAL_SCHEME, label[:64]),
                value,
                hd.sr.RelationshipTypeValues.CONTAINS,
            )
        )
    for image in key_images:
        items.append(
            hd.sr.ImageContentItem(
                KEY_IMAGE,
                image.SOPClassUID,
                image.SOPInstanceUID,
                relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
            )
        )
    content = hd.sr.ContainerContentItem(REPORT_TITLE, template_id=None)
    content.ContentSequence = hd.sr.ContentSequence(items, is_root=False)
    # highdicom takes the patient and study from its first evidence item; the header leads,
    # the key images follow (the header itself is not an instance and is not kept as one).
    evidence = [_as_evidence(header), *key_images]
    sr = hd.sr.ComprehensiveSR(
        evidence=evidence,
        content=content,
        series_instance_uid=series_uid(header.StudyInstanceUID, "sr"),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=sop_instance_uid,
        instance_number=version.number,
        manufacturer=MANUFACTURER,
        institution_name=institution or None,
        institutional_department_name=signed.report.department or None,
        is_complete=True,
        is_final=True,
        is_verified=True,
        verifying_observer_name=_person(signer_name),
        verifying_organization=institution or MANUFACTURER,
        previous_versions=list(previous) or None,
        specific_character_set=CHARSET,
        series_description="报告 Report (SR)",
    )
    _keep_only_real_evidence(sr, {i.SOPInstanceUID for i in key_images})
    _copy_identity(sr, header)
    signed_at = signed.report.signed_at or version.created_at
    sr.VerifyingObserverSequence[0].VerificationDateTime = _dt(signed_at)
    sr.ContentDate = DA(_date(signed_at))
    sr.ContentTime = TM(_time(signed_at))
    return sr


def build_kos(
    signed: SignedReport,
    header: Dataset,
    key_images: Sequence[Dataset],
    *,
    sop_instance_uid: str,
    institution: str,
) -> Dataset:
    """The Key Object Selection of one signed version's key images (at least one)."""
    kos = hd.ko.KeyObjectSelectionDocument(
        evidence=list(key_images),
        content=hd.ko.KeyObjectSelection(
            document_title=KEY_IMAGE,
            referenced_objects=list(key_images),
            description=f"关键图像 Key images: {signed.report.accession_number}"[:1024],
        ),
        series_instance_uid=series_uid(header.StudyInstanceUID, "ko"),
        series_number=KOS_SERIES_NUMBER,
        sop_instance_uid=sop_instance_uid,
        instance_number=signed.version.number,
        manufacturer=MANUFACTURER,
        institution_name=institution or None,
        institutional_department_name=signed.report.department or None,
    )
    kos.SpecificCharacterSet = CHARSET
    _copy_identity(kos, header)
    kos.SeriesDescription = "关键图像 Key images (KO)"
    signed_at = signed.report.signed_at or signed.version.created_at
    kos.ContentDate = DA(_date(signed_at))
    kos.ContentTime = TM(_time(signed_at))
    return kos


def build_pdf(
    signed: SignedReport,
    header: Dataset,
    pdf: bytes,
    *,
    sop_instance_uid: str,
    institution: str,
    title: str,
) -> Dataset:
    """The Encapsulated PDF Storage object of the printed layout of one signed version."""
    ds = Dataset()
    ds.SpecificCharacterSet = CHARSET
    _copy_identity(ds, header)
    signed_at = signed.report.signed_at or signed.version.created_at
    ds.SOPClassUID = ENCAPSULATED_PDF
    ds.SOPInstanceUID = sop_instance_uid
    ds.Modality = "DOC"
    ds.ConversionType = "SD"  # scanned document / synthetic: made by software
    ds.SeriesInstanceUID = series_uid(header.StudyInstanceUID, "pdf")
    ds.SeriesNumber = PDF_SERIES_NUMBER
    ds.SeriesDescription = "报告 Report (PDF)"
    ds.InstanceNumber = signed.version.number
    ds.Manufacturer = MANUFACTURER
    if institution:
        ds.InstitutionName = institution
    ds.ContentDate, ds.ContentTime = _date(signed_at), _time(signed_at)
    ds.AcquisitionDateTime = _dt(signed_at)
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = title[:64]
    ds.ConceptNameCodeSequence = [REPORT_TITLE]
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    return ds


def encode(ds: Dataset) -> bytes:
    """Part 10 bytes (explicit VR little endian) for the archive's ingest."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def read(data: bytes) -> Dataset:
    return dcmread(BytesIO(data))


def _as_evidence(header: Dataset) -> Dataset:
    item = Dataset()
    for element in header:
        item.add(element)
    item.SOPClassUID = COMPREHENSIVE_SR
    item.SOPInstanceUID = generate_uid()
    item.SeriesInstanceUID = generate_uid()
    return item


def _keep_only_real_evidence(sr: Dataset, real: set[str]) -> None:
    for keyword in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        studies = []
        for study in sr.get(keyword, []):
            series_items = []
            for series in study.ReferencedSeriesSequence:
                kept = [
                    i for i in series.ReferencedSOPSequence if i.ReferencedSOPInstanceUID in real
                ]
                if kept:
                    series.ReferencedSOPSequence = kept
                    series_items.append(series)
            if series_items:
                study.ReferencedSeriesSequence = series_items
                studies.append(study)
        if keyword in sr:
            if studies:
                setattr(sr, keyword, studies)
            else:
                del sr[keyword]


def _copy_identity(ds: Dataset, header: Dataset) -> None:
    for keyword in STUDY_ATTRIBUTES:
        if keyword in header:
            setattr(ds, keyword, header.data_element(keyword).value)  # type: ignore[union-attr]
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
        if keyword not in ds:
            setattr(ds, keyword, "")


def _date(at: datetime) -> str:
    return clock.dicom_date(at)


def _time(at: datetime) -> str:
    return clock.dicom_time(at)


def _dt(at: datetime) -> str:
    return clock.dicom_datetime(at)
