"""The DICOMDIR at the disc's root, made with pydicom's ``FileSet``: PATIENT / STUDY / SERIES /
IMAGE (or the SOP class's own leaf record: SR DOCUMENT, KEY OBJECT DOC, PRESENTATION...), each
record referencing its file by our 8.3 File ID, in the objects' own character set.

The archived files are never changed. ``FileSet`` wants Study Date, Study Time, Study ID,
Series Number and Instance Number (Type 1 in the records, PS3.3 F.5); where an object lacks
one, only its *record* gets a value: the one its study's (series') other objects give, else
a stand-in: the exam's hospital day (from the manifest) and 000000, the accession number (or
"1"), the series' place in the study, the object's place in its series.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.fileset import (
    DIRECTORY_RECORDERS,
    FileInstance,
    FileSet,
    RecordNode,
    _four_level_record_type,
)

from kiosk_burner.media.layout import Placed


class _UniqueFileSet(FileSet):
    """``add_custom`` first looks for the new SOP Instance UID among all instances added so
    far, through pydicom's slow record attribute lookup: O(n²), about 10 s of a 500-image CT.
    :func:`stage` fetched each object once, so that search can only miss: while adding, the
    set shows no instances to it."""

    adding = False

    def __iter__(self) -> Iterator[FileInstance]:
        return iter(()) if self.adding else super().__iter__()


def _stub(header: Dataset) -> Dataset:
    """What ``FileSet`` saves at a File ID before the archived file replaces it: the UIDs
    alone (saving the whole header 500 times cost seconds)."""
    stub = Dataset()
    stub.SOPClassUID = header.SOPClassUID
    stub.SOPInstanceUID = header.SOPInstanceUID
    stub.file_meta = FileMetaDataset(header.file_meta)
    return stub


class _NamedNode(RecordNode):
    """A record whose File ID component we choose (pydicom would name it ``PT000000``)."""

    def __init__(self, record: Dataset, name: str) -> None:
        super().__init__(record)
        self._name = name

    @property
    def component(self) -> str:
        return self._name


def _empty(ds: Dataset, keyword: str) -> bool:
    return keyword not in ds or ds[keyword].VM == 0


def _known(placed: list[Placed]) -> dict[tuple[str, str], object]:
    """The first value each study (or series) gives for a record attribute, so one object
    lacking it borrows its study's (or series') value before any stand-in."""
    known: dict[tuple[str, str], object] = {}
    for item in placed:
        ds = item.staged.header
        for keyword in ("StudyDate", "StudyTime", "StudyID"):
            if not _empty(ds, keyword):
                known.setdefault((item.staged.study_uid, keyword), ds[keyword].value)
        if not _empty(ds, "SeriesNumber"):
            known.setdefault((item.staged.series_uid, "SeriesNumber"), ds.SeriesNumber)
    return known


def _filled(
    placed: Placed, exam_day: str, accession: str, known: dict[tuple[str, str], object]
) -> Dataset:
    """A copy of the header with the record attributes ``FileSet`` needs (never saved)."""
    ds = copy.copy(placed.staged.header)
    study, series = placed.staged.study_uid, placed.staged.series_uid
    stand_in = {
        "StudyDate": ((study, "StudyDate"), exam_day.replace("-", "")),
        "StudyTime": ((study, "StudyTime"), "000000"),
        "StudyID": ((study, "StudyID"), (re.sub(r"[^A-Za-z0-9 ]", "", accession) or "1")[:16]),
        "SeriesNumber": ((series, "SeriesNumber"), placed.series_number),
    }
    for keyword, (key, fallback) in stand_in.items():
        if _empty(ds, keyword):
            setattr(ds, keyword, known.get(key, fallback))
    if _empty(ds, "InstanceNumber"):
        ds.InstanceNumber = placed.instance_number
    return ds


def _leaf(ds: Dataset, file_id: tuple[str, ...]) -> RecordNode:
    """The four records of one object, linked leaf to patient."""
    kinds = ["PATIENT", "STUDY", "SERIES", _four_level_record_type(ds)]
    names = [os.path.join(*file_id[:2]), *file_id[2:]]
    parent: RecordNode | None = None
    for kind, name in zip(kinds, names, strict=True):
        record = DIRECTORY_RECORDERS[kind](ds)
        record.OffsetOfTheNextDirectoryRecord = 0
        record.RecordInUseFlag = 0xFFFF
        record.OffsetOfReferencedLowerLevelDirectoryEntity = 0
        record.DirectoryRecordType = kind
        if "SpecificCharacterSet" in ds:
            record.SpecificCharacterSet = ds.SpecificCharacterSet
        if kind == kinds[-1]:  # the leaf: add_custom fills its file references again
            record.ReferencedSOPClassUIDInFile = ds.SOPClassUID
            record.ReferencedSOPInstanceUIDInFile = ds.SOPInstanceUID
            record.ReferencedTransferSyntaxUIDInFile = ds.file_meta.TransferSyntaxUID
        node = _NamedNode(record, name)
        if parent is not None:
            node.parent = parent
        parent = node
    assert parent is not None
    return parent


def write_dicomdir(
    root: Path,
    placed: list[Placed],
    fileset_id: str,
    exam_days: dict[str, tuple[str, str]],
) -> Path:
    """Write ``root/DICOMDIR`` and put every object at its File ID, byte for byte as fetched.
    ``exam_days``: study UID -> (exam day, accession) for the stand-in record values."""
    fs = _UniqueFileSet()
    fs.ID = fileset_id
    known = _known(placed)
    fs.adding = True
    for item in placed:
        day, accession = exam_days.get(item.staged.study_uid, ("", ""))
        ds = _filled(item, day, accession, known)
        fs.add_custom(_stub(item.staged.header), _leaf(ds, item.file_id))
    fs.adding = False
    # FileSet saves its own re-encoding of what it was given (here headers only) at each
    # File ID; the archived file then replaces it, so nothing on the disc is re-encoded.
    fs.write(root)
    for item in placed:
        target = root.joinpath(*item.file_id)
        target.unlink()
        try:
            os.link(item.staged.path, target)
        except OSError:
            shutil.copyfile(item.staged.path, target)
    return root / "DICOMDIR"
