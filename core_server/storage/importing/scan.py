"""Reading an import source before anything is stored: which patients and studies a disc,
a folder or an upload holds (its DICOMDIR's files, or every file when it has none), and
which files are pictures or PDF scans that can be wrapped for an exam."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from core_server.archive.importer import MEDIA_STORAGE_DIRECTORY, candidate_files

log = logging.getLogger(__name__)
PICTURES = frozenset({".jpg", ".jpeg", ".png"})
DOCUMENTS = frozenset({".pdf"})
_HEADER = [
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "PatientID",
    "IssuerOfPatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyDescription",
    "AccessionNumber",
    "Modality",
]


@dataclass
class FoundFile:
    path: str  # relative to the source
    kind: str  # dicom | picture | pdf | other
    size: int
    sop_instance_uid: str = ""
    study_instance_uid: str = ""
    patient: tuple[str, str, str] | None = None  # the foreign patient's key


@dataclass
class FoundPatient:
    patient_id: str
    issuer: str
    name: str  # the DICOM Person Name as on the disc (decoded by its character set)
    birth_date: str
    sex: str
    studies: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Found:
    files: list[FoundFile] = field(default_factory=list)
    patients: dict[tuple[str, str, str], FoundPatient] = field(default_factory=dict)


def scan(root: Path) -> Found:
    """What ``root`` holds: the files a DICOMDIR in it names (and every other file under
    it), each DICOM file's header read without its pixel data."""
    dicomdir = next((p for p in root.iterdir() if p.name.upper() == "DICOMDIR"), None)
    files = candidate_files([root] + ([dicomdir] if dicomdir else []))
    found = Found()
    for path in files:
        relative = str(path.relative_to(root))
        found.files.append(_read(path, relative, found))
    return found


def _read(path: Path, relative: str, found: Found) -> FoundFile:
    size = path.stat().st_size
    suffix = path.suffix.lower()
    if suffix in PICTURES:
        return FoundFile(relative, "picture", size)
    if suffix in DOCUMENTS:
        return FoundFile(relative, "pdf", size)
    try:
        ds = dcmread(path, stop_before_pixels=True, specific_tags=_HEADER, force=True)
        sop_uid = str(ds.SOPInstanceUID)
        study_uid = str(ds.StudyInstanceUID)
    except (InvalidDicomError, AttributeError, OSError, ValueError, KeyError) as exc:
        log.info("not a DICOM object: %s (%s)", path, exc)
        return FoundFile(relative, "other", size)
    if str(ds.get("SOPClassUID", "")) == MEDIA_STORAGE_DIRECTORY:
        return FoundFile(relative, "other", size)
    key = _patient(ds, found)
    study = found.patients[key].studies.setdefault(
        study_uid,
        {
            "study_instance_uid": study_uid,
            "study_date": str(ds.get("StudyDate", "") or ""),
            "description": str(ds.get("StudyDescription", "") or ""),
            "accession_number": str(ds.get("AccessionNumber", "") or ""),
            "modalities": [],
            "series": [],
            "instances": 0,
        },
    )
    modality = str(ds.get("Modality", "") or "")
    if modality and modality not in study["modalities"]:
        study["modalities"].append(modality)
    series = str(ds.get("SeriesInstanceUID", "") or "")
    if series and series not in study["series"]:
        study["series"].append(series)
    study["instances"] += 1
    return FoundFile(relative, "dicom", size, sop_uid, study_uid, key)


def _patient(ds: Any, found: Found) -> tuple[str, str, str]:
    patient_id = str(ds.get("PatientID", "") or "").strip()
    issuer = str(ds.get("IssuerOfPatientID", "") or "").strip()
    name = str(ds.get("PatientName", "") or "").strip()
    key = (patient_id, issuer, name)
    if key not in found.patients:
        found.patients[key] = FoundPatient(
            patient_id,
            issuer,
            name,
            str(ds.get("PatientBirthDate", "") or ""),
            str(ds.get("PatientSex", "") or ""),
        )
    return key
