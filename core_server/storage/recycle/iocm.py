"""IHE IOCM rejection notes: a Key Object Selection Document whose Concept Name is one of the
rejection codes of DICOM PS3.16 CID 7011; the instances it lists are taken out of the archive
(into the bin) with the code's meaning as the reason. The note itself is kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydicom import Dataset, dcmread
from pydicom.uid import KeyObjectSelectionDocumentStorage

# CID 7011 "Rejected for Quality Reasons" ... as IOCM uses them (scheme DCM).
REJECTION_CODES = {
    "113001": "Rejected for Quality Reasons",
    "113037": "Rejected for Patient Safety Reasons",
    "113038": "Incorrect Modality Worklist Entry",
    "113039": "Data Retention Policy Expired",
}


@dataclass(frozen=True)
class RejectionNote:
    sop_instance_uid: str
    study_instance_uid: str
    code: str
    meaning: str
    rejected: tuple[str, ...]  # SOP Instance UIDs


def read(path: Path) -> RejectionNote | None:
    """The rejection note in a stored file, or None when the file is no rejection note."""
    ds = dcmread(path, stop_before_pixels=True)
    return note_of(ds)


def note_of(ds: Dataset) -> RejectionNote | None:
    if str(ds.get("SOPClassUID", "")) != KeyObjectSelectionDocumentStorage:
        return None
    concept = ds.get("ConceptNameCodeSequence") or []
    if not concept:
        return None
    code = str(concept[0].get("CodeValue", ""))
    scheme = str(concept[0].get("CodingSchemeDesignator", ""))
    if scheme != "DCM" or code not in REJECTION_CODES:
        return None
    own = str(ds.SOPInstanceUID)
    rejected = tuple(uid for uid in _evidence(ds) if uid != own)
    return RejectionNote(
        own, str(ds.get("StudyInstanceUID", "")), code, REJECTION_CODES[code], rejected
    )


def _evidence(ds: Dataset) -> Iterator[str]:
    """The SOP Instance UIDs of the note's Current Requested Procedure Evidence (all the
    instances it rejects, IOCM RAD-66)."""
    for study in ds.get("CurrentRequestedProcedureEvidenceSequence") or []:
        for series in study.get("ReferencedSeriesSequence") or []:
            for item in series.get("ReferencedSOPSequence") or []:
                uid = str(item.get("ReferencedSOPInstanceUID", ""))
                if uid:
                    yield uid
