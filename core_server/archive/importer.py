"""Importing DICOM files from disk (a CD/DVD, a USB stick, a folder) through the ingest path."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from core_server.archive.ingest import Origin, Stored
from core_server.archive.objects import InvalidObject
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
