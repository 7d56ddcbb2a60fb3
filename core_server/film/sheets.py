"""Film sheets in the archive: a printed (or web-composed) sheet is composed at ``film_dpi``,
wrapped as a Secondary Capture Image in its exam's study, stored through the one ingest path
(``Archive.store_instance``) and recorded in ``film_sheets``.

Print Management carries no Study Instance UID, so a modality's sheet is matched to an exam by
these rules, the first that finds one wins (``matched_by`` says which):

1. ``exam``: the exam given (the web composer knows it);
2. ``reference``: a Referenced/Source Image Sequence in a film object names an archived image:
   its study's accession number, else its Study Instance UID among the patient's exams;
3. ``study``: a Study Instance UID the modality added to a film object, found the same way;
4. ``accession``: an Accession Number added to a film object, or the Film Session Label, or a
   word of an annotation, that is an exam's accession number;
5. ``patient``: a Patient ID added to a film object (or a word of an annotation) with an exam
   of today: the one in progress, else the most recently completed;
6. ``station``: the calling AE's exam of today in progress, else its most recently completed
   one (a technician prints right after the scan).

A sheet no rule matches is stored in a study of its own and listed as a film without exam
(:func:`unmatched_sheets`); :func:`link_sheet` gives it its exam later.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from sqlalchemy import insert

from core_server import clock, db
from core_server.archive import Archive, Level, Origin
from core_server.film.annotations import annotate
from core_server.film.print_scp import PrintedFilm
from core_server.film.register import (
    SheetRow,
    link_sheet,
    mark_printed,
    sheet,
    sheet_count,
    sheets_of_exam,
    sheets_of_exams,
    unmatched_sheets,
)
from core_server.film.sheet import FilmSheet, compose
from core_server.film.tables import film_sheets
from core_server.refusals import NotFound
from core_server.ris import Exam, Ris
from core_server.ris import NotFound as NoSuchExam

log = logging.getLogger(__name__)

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
# 150 dpi: a 14x17 in sheet is 2100 x 2550 pixels (5.4 MB), which keeps a CT's 512-pixel
# images at about their own resolution in a 4x5 layout (3.5 in per box = 525 pixels) and
# larger than their own in 2x2 or 3x4; laser imagers print 300-500 dpi, but only by
# interpolating the same images.
DEFAULT_DPI = 150
SERIES_NUMBER = 9901  # the film series sort after the exam's own
_TODAY_STATUSES = ["in_progress", "completed"]


@dataclass(frozen=True)
class Hints:
    """What may tie a sheet to an exam (see the module's rules)."""

    accession_number: str = ""
    patient_id: str = ""
    patient_name: str = ""
    study_instance_uid: str = ""
    referenced_images: tuple[str, ...] = ()
    words: tuple[str, ...] = ()  # the Film Session Label and the annotations' words
    calling_ae: str = ""

    @classmethod
    def of(cls, film: PrintedFilm) -> Hints:
        texts = [film.session.get("FilmSessionLabel", ""), *film.annotations.values()]
        words = []
        for text in texts:
            for word in text.replace(":", " ").replace("：", " ").split():
                if 3 <= len(word) <= 64 and word not in words:
                    words.append(word)
        return cls(
            accession_number=film.hints.get("AccessionNumber", ""),
            patient_id=film.hints.get("PatientID", ""),
            patient_name=film.hints.get("PatientName", ""),
            study_instance_uid=film.hints.get("StudyInstanceUID", ""),
            referenced_images=tuple(film.referenced_images),
            words=tuple(words[:12]),
            calling_ae=film.calling_ae,
        )


@dataclass(frozen=True)
class StoredSheet:
    id: int
    exam_id: int | None
    matched_by: str  # the rule that found the exam, "" for none
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    width: int
    height: int


# -- matching --------------------------------------------------------------------------------


def match_exam(archive: Archive, ris: Ris | None, hints: Hints) -> tuple[Exam | None, str]:
    """The exam of a printed sheet and the rule that found it (module docstring)."""
    if ris is None:
        return None, ""
    for uid in hints.referenced_images:
        for image in archive.find(Level.IMAGE, {"SOPInstanceUID": uid}, limit=1):
            exam = _exam_of_study(ris, image)
            if exam is not None:
                return exam, "reference"
    if hints.study_instance_uid:
        for study in archive.find(
            Level.STUDY, {"StudyInstanceUID": hints.study_instance_uid}, limit=1
        ):
            exam = _exam_of_study(ris, study)
            if exam is not None:
                return exam, "study"
    for accession in filter(None, (hints.accession_number, *hints.words)):
        exam = _by_accession(ris, accession)
        if exam is not None:
            return exam, "accession"
    for patient_id in filter(None, (hints.patient_id, *hints.words)):
        exam = _latest(ris.exams(day=clock.today(), patient_id=patient_id, status=_TODAY_STATUSES))
        if exam is not None:
            return exam, "patient"
    if hints.calling_ae:
        today = ris.exams(day=clock.today(), status=_TODAY_STATUSES, limit=500)
        exam = _latest([e for e in today if e.station_ae.strip() == hints.calling_ae])
        if exam is not None:
            return exam, "station"
    return None, ""


def _by_accession(ris: Ris, accession: str) -> Exam | None:
    try:
        return ris.exam_by_accession(accession)
    except (NotFound, NoSuchExam):  # the RIS raises its own NotFound
        return None


def _exam_of_study(ris: Ris, study: dict[str, Any]) -> Exam | None:
    accession = str(study.get("AccessionNumber") or "")
    exam = _by_accession(ris, accession) if accession else None
    if exam is not None:
        return exam
    uid, patient_id = str(study.get("StudyInstanceUID") or ""), str(study.get("PatientID") or "")
    if not patient_id:
        return None
    for candidate in ris.exams(patient_id=patient_id, limit=200):
        if uid == candidate.study_instance_uid or uid in candidate.studies:
            return candidate
    return None


def _latest(exams: list[Exam]) -> Exam | None:
    """The exam in progress changed last, else the one completed last."""
    for status in _TODAY_STATUSES:
        found = [e for e in exams if e.status == status]
        if found:
            return max(found, key=lambda e: e.status_at)
    return None


# -- the Secondary Capture -------------------------------------------------------------------


def _study_of(archive: Archive, exam: Exam) -> dict[str, Any]:
    """The exam's stored study (its images are there), else the study it was given."""
    for uid in (*exam.studies, exam.study_instance_uid):
        for study in archive.find(Level.STUDY, {"StudyInstanceUID": uid}, limit=1):
            return study
    return {"StudyInstanceUID": exam.study_instance_uid or generate_uid()}


def sheet_dataset(
    picture: Any, sheet: FilmSheet, exam: Exam | None, study: dict[str, Any], hints: Hints, dpi: int
) -> Dataset:
    """The composed sheet as a Secondary Capture Image (one frame, 8-bit, MONOCHROME2 or RGB)."""
    at = clock.now()
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = str(study.get("StudyInstanceUID") or generate_uid())
    ds.SeriesInstanceUID = generate_uid()
    if exam is not None:
        ds.PatientName = exam.patient_person_name.dicom()
        ds.PatientID = exam.patient_id
        ds.AccessionNumber = exam.accession_number
    else:
        ds.PatientName = hints.patient_name
        ds.PatientID = hints.patient_id
        ds.AccessionNumber = hints.accession_number
    ds.PatientBirthDate = str(study.get("PatientBirthDate") or "")
    ds.PatientSex = str(study.get("PatientSex") or "")
    ds.StudyDate = str(study.get("StudyDate") or clock.dicom_date(at))
    ds.StudyTime = str(study.get("StudyTime") or clock.dicom_time(at))
    ds.StudyID = str(study.get("StudyID") or "")
    ds.ReferringPhysicianName = ""
    ds.Modality = (exam.modality if exam is not None and exam.modality else "") or "OT"
    ds.SeriesNumber = SERIES_NUMBER
    ds.Laterality = ""  # a sheet of both sides as often as of one
    ds.SeriesDescription = "FILM"
    ds.InstanceNumber = 1
    ds.ConversionType = "WSD"  # a workstation's composed picture
    ds.Manufacturer = "PACS"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.PatientOrientation = ""
    ds.ContentDate, ds.ContentTime = clock.dicom_date(at), clock.dicom_time(at)
    ds.DateOfSecondaryCapture, ds.TimeOfSecondaryCapture = ds.ContentDate, ds.ContentTime
    ds.BurnedInAnnotation = "YES"  # printed images carry the patient's name
    ds.NominalScannedPixelSpacing = [f"{25.4 / dpi:.6f}"] * 2
    ds.DerivationDescription = f"{sheet.display_format} {sheet.film_size} {sheet.orientation}"
    pixels = np.asarray(picture)
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    if pixels.ndim == 3:
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    else:
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = pixels.tobytes()
    return ds


def encode(ds: Dataset) -> bytes:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


# -- storing and the register ----------------------------------------------------------------


def store_sheet(
    archive: Archive,
    ris: Ris | None,
    sheet: FilmSheet,
    *,
    dpi: int = DEFAULT_DPI,
    source: str = "modality",
    exam_id: int | None = None,
    hints: Hints | None = None,
    copies: int = 1,
    requested_by: str = "",
    annotations: dict[int, str] | None = None,
) -> StoredSheet:
    """Compose ``sheet`` (with its ``annotations`` by position drawn below it), archive it
    in its exam's study (matched as the module says unless ``exam_id`` is given) and record
    it in ``film_sheets``."""
    hints = hints or Hints()
    exam: Exam | None
    if exam_id is not None:
        if ris is None:
            raise NotFound("film.exam_not_found", exam_id=exam_id)
        exam, rule = ris.exam(exam_id), "exam"
    else:
        exam, rule = match_exam(archive, ris, hints)
    study = _study_of(archive, exam) if exam is not None else {}
    picture = annotate(compose(sheet, dpi), annotations or {}, dpi)
    ds = sheet_dataset(picture, sheet, exam, study, hints, dpi)
    archive.store_instance(encode(ds), Origin("film", hints.calling_ae))
    modality = exam.modality if exam is not None else ""
    with db.write(archive.engine) as conn:
        sheet_id = conn.execute(
            insert(film_sheets)
            .values(
                exam_id=exam.id if exam is not None else None,
                accession_number=str(ds.AccessionNumber),
                patient_id=str(ds.PatientID),
                modality=modality,
                study_instance_uid=str(ds.StudyInstanceUID),
                series_instance_uid=str(ds.SeriesInstanceUID),
                sop_instance_uid=str(ds.SOPInstanceUID),
                source=source,
                calling_ae=hints.calling_ae,
                requested_by=requested_by,
                film_size=sheet.film_size,
                display_format=sheet.display_format,
                orientation=sheet.orientation,
                color=sheet.color,
                copies=copies,
                images=len(sheet.images),
                created_at=clock.now(),
            )
            .returning(film_sheets.c.id)
        ).scalar_one()
    log.info(
        "film sheet %s of %s stored (exam %s by %s)",
        sheet_id,
        hints.calling_ae or source,
        exam.id if exam else None,
        rule or "none",
    )
    return StoredSheet(
        int(sheet_id),
        exam.id if exam is not None else None,
        rule,
        str(ds.StudyInstanceUID),
        str(ds.SeriesInstanceUID),
        str(ds.SOPInstanceUID),
        picture.width,
        picture.height,
    )


def modality_printer(archive: Archive, ris: Ris | None, dpi: int = DEFAULT_DPI) -> Any:
    """The ``printer`` of a :class:`~core_server.film.print_scp.PrintSession`: each printed
    film box archived as a sheet from the modality."""

    def print_film(film: PrintedFilm) -> None:
        store_sheet(
            archive,
            ris,
            film.sheet,
            dpi=dpi,
            hints=Hints.of(film),
            copies=film.copies,
            annotations=film.annotations,
        )

    return print_film


__all__ = [
    "DEFAULT_DPI",
    "Hints",
    "SheetRow",
    "StoredSheet",
    "encode",
    "link_sheet",
    "mark_printed",
    "match_exam",
    "modality_printer",
    "sheet",
    "sheet_count",
    "sheet_dataset",
    "sheets_of_exam",
    "sheets_of_exams",
    "store_sheet",
    "unmatched_sheets",
]
