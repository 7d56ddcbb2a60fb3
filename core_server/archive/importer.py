"""Importing DICOM files from disk (a CD/DVD, a USB stick, a folder) through the ingest path."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from pathlib import Path

from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from core_server.archive import rewrite
from core_server.archive.ingest import Origin, Stored
from core_server.archive.objects import InvalidObject, text
from core_server.refusals import Refusal

log = logging.getLogger(__name__)
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"


@dataclass
class ImportReport:
    stored: int = 0
    duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0


def candidate_files(paths: Iterable[Path]) -> list[Path]:
    """Every file under the given paths; a DICOMDIR adds the files it references."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not child.name.startswith("."):
                    found[child] = None
        elif path.is_file():
            found[path] = None
            if path.name.upper() == "DICOMDIR":
                for referenced in _dicomdir_files(path):
                    found[referenced] = None
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return list(found)


def _dicomdir_files(path: Path) -> Iterator[Path]:
    from pydicom.fileset import FileSet

    for instance in FileSet(dcmread(path)):
        yield Path(instance.path)


def import_files(
    store: Callable[[bytes, Origin], Stored],
    files: list[Path],
    progress: Callable[[Path], None] | None = None,
) -> ImportReport:
    report = ImportReport()
    origin = Origin("import")
    for path in files:
        try:
            data = as_part10(path.read_bytes())
            if data is None:
                report.skipped += 1
            else:
                outcome = store(data, origin).outcome
                if outcome == "duplicate":
                    report.duplicates += 1
                else:
                    report.stored += 1
        except (InvalidObject, Refusal, OSError) as exc:  # a Refusal: ReplaceRefused
            report.failed.append((str(path), str(exc)))
            log.warning("import of %s failed: %s", path, exc)
        if progress:
            progress(path)
    return report


def as_part10(data: bytes) -> bytes | None:
    """The object as a Part 10 file: as it is when it has a preamble and meta information,
    else with meta information added. None for a DICOMDIR, which is no object to store."""
    if data[128:132] == b"DICM":
        meta = dcmread(BytesIO(data), stop_before_pixels=True, specific_tags=["SOPClassUID"])
        if str(meta.file_meta.get("MediaStorageSOPClassUID", "")) == MEDIA_STORAGE_DIRECTORY:
            return None
        return data
    try:
        dataset = dcmread(BytesIO(data), force=True)
        sop_class, sop_instance = dataset.SOPClassUID, dataset.SOPInstanceUID
    except Exception as exc:
        raise InvalidObject(f"not a DICOM file: {exc}") from exc
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = sop_class
    dataset.file_meta.MediaStorageSOPInstanceUID = sop_instance
    dataset.file_meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if dataset.original_encoding[0] else ExplicitVRLittleEndian
    )
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


# -- reconciliation of foreign objects (IHE IRWF.b) ------------------------------------------

UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


@dataclass(frozen=True)
class Coercion:
    """How an imported object is made ours: ``identity`` (keyword -> value: our Patient ID,
    name, birth date, sex, and the exam's accession number when linked), the foreign
    ``(patient ID, issuer)`` kept in Other Patient IDs Sequence, and ``new_uid`` (foreign UID
    -> ours) when re-keying; UIDs it does not know are left alone."""

    identity: Mapping[str, str] = field(default_factory=dict)
    foreign: tuple[str, str] | None = None
    new_uid: Callable[[str], str | None] | None = None


def coerce(data: bytes, coercion: Coercion, when: datetime) -> bytes:
    """The Part 10 object ``data`` with ``coercion`` applied; the values replaced go into an
    Original Attributes Sequence item with reason ``COERCE`` (PS3.3 C.12.1: values replaced
    on import from media), pixel data untouched. Unchanged bytes when nothing differs."""
    ds = dcmread(BytesIO(data))
    values = {k: v for k, v in coercion.identity.items() if rewrite.differs(ds, k, v)}
    if coercion.new_uid is not None:
        for keyword in UID_KEYWORDS:
            mapped = coercion.new_uid(str(ds.get(keyword, "")))
            if mapped:
                values[keyword] = mapped
    other = _other_id_item(ds, coercion.foreign) if values else None
    if not values and other is None:
        return data
    if not rewrite._encodable(ds, values.values()):
        ds.decode()
        ds.SpecificCharacterSet = rewrite.UTF8
    original = rewrite._original_values(ds, values)
    for keyword, value in values.items():
        rewrite._set(ds, keyword, value)
    if coercion.new_uid is not None:
        _map_references(ds, coercion.new_uid)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if other is not None:
        if "OtherPatientIDsSequence" not in ds:
            ds.OtherPatientIDsSequence = Sequence()
        ds.OtherPatientIDsSequence.append(other)
    _record_original(ds, original, when)
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _record_original(ds: Dataset, original: Dataset, when: datetime) -> None:
    item = Dataset()
    item.ModifiedAttributesSequence = Sequence([original])
    item.AttributeModificationDateTime = when.strftime("%Y%m%d%H%M%S.%f%z")
    item.ModifyingSystem = rewrite.MODIFYING_SYSTEM
    item.SourceOfPreviousValues = ""
    item.ReasonForTheAttributeModification = "COERCE"
    if "OriginalAttributesSequence" in ds:
        ds.OriginalAttributesSequence.append(item)
    else:
        ds.OriginalAttributesSequence = Sequence([item])


def _other_id_item(ds: Dataset, foreign: tuple[str, str] | None) -> Dataset | None:
    """The Other Patient IDs Sequence item for the foreign ID, unless it is already there or
    the object keeps that ID as its own."""
    if foreign is None or not foreign[0]:
        return None
    patient_id, issuer = foreign
    for item in ds.get("OtherPatientIDsSequence") or []:
        if text(item, "PatientID") == patient_id and text(item, "IssuerOfPatientID") == issuer:
            return None
    item = Dataset()
    item.PatientID = patient_id
    item.IssuerOfPatientID = issuer
    item.TypeOfPatientID = "TEXT"
    return item


def _map_references(ds: Dataset, new_uid: Callable[[str], str | None]) -> None:
    """References to re-keyed objects (a KOS, SR or presentation state among the imported
    files) follow them: every UI value the mapping knows is replaced."""

    def visit(dataset: Dataset, element: DataElement) -> None:
        if element.VR != "UI" or element.keyword in UID_KEYWORDS or not element.value:
            return
        if element.VM > 1:
            element.value = [new_uid(str(v)) or v for v in element.value]
        else:
            element.value = new_uid(str(element.value)) or element.value

    ds.walk(visit)
