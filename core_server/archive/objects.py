"""Reading what the archive needs from a received DICOM object, once, from its encoded bytes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydicom import Dataset, dcmread
from pydicom.dataelem import RawDataElement
from pydicom.multival import MultiValue
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian
from pydicom.valuerep import PersonName

import core_server.iso_ir_58  # noqa: F401  (pydicom gets ISO 2022 IR 58 wrong without it)
from core_server.archive import header
from core_server.pinyin import search_keys

_SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_DEFER = 4096  # values larger than this (pixel data) are not read while indexing


class InvalidObject(ValueError):
    """The bytes are not a complete DICOM object the archive can index; says why."""


@dataclass(frozen=True)
class ParsedObject:
    dataset: Dataset
    transfer_syntax_uid: str
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str


def parse(path: Path) -> ParsedObject:
    """Read a Part 10 file's attributes (large values are left on disk); refuse one that is
    truncated, malformed (elements out of order, an unknown VR), lacks its identifying UIDs or,
    being an image, its pixel data."""
    try:
        walked = header.read(path)  # the common case, without pydicom's full read
    except (header.Truncated, header.Malformed) as exc:
        raise InvalidObject(str(exc)) from exc
    if walked is not None:
        dataset: Dataset = walked[0]
        transfer_syntax, has_pixels = walked[1], walked[0].has_pixels
    else:
        dataset, transfer_syntax, has_pixels = _read_with_pydicom(path)
    uids = {}
    for keyword in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        value = text(dataset, keyword)
        if not value:
            raise InvalidObject(f"{keyword} is missing")
        if len(value) > 64:
            raise InvalidObject(f"{keyword} is longer than 64 characters")
        uids[keyword] = value
    if not has_pixels and is_image(uids["SOPClassUID"]):
        raise InvalidObject(f"{UID(uids['SOPClassUID']).name} without PixelData")
    return ParsedObject(
        dataset=dataset,
        transfer_syntax_uid=transfer_syntax,
        sop_class_uid=uids["SOPClassUID"],
        sop_instance_uid=uids["SOPInstanceUID"],
        study_instance_uid=uids["StudyInstanceUID"],
        series_instance_uid=uids["SeriesInstanceUID"],
    )


@lru_cache(maxsize=512)
def is_image(sop_class_uid: str) -> bool:
    """An image storage SOP class (its IOD has pixel data): "... Image Storage" by name."""
    return "Image Storage" in UID(sop_class_uid).name


def _read_with_pydicom(path: Path) -> tuple[Dataset, str, bool]:
    try:
        dataset = dcmread(path, defer_size=_DEFER)
    except Exception as exc:
        raise InvalidObject(f"not a readable DICOM file: {exc}") from exc
    transfer_syntax = str(getattr(dataset.file_meta, "TransferSyntaxUID", "") or "")
    if not transfer_syntax:
        raise InvalidObject("file meta information has no Transfer Syntax UID")
    tags = list(dataset._dict)  # pydicom keeps the file's order
    if tags != sorted(tags):
        first = next(b for a, b in itertools.pairwise(tags) if b < a)
        raise InvalidObject(f"element {first} is out of order")
    if transfer_syntax != DeflatedExplicitVRLittleEndian:
        _check_complete(dataset, path)
    return dataset, transfer_syntax, any(tag in header.PIXEL_TAGS for tag in tags)


def _check_complete(dataset: Dataset, path: Path) -> None:
    # pydicom reads a truncated file without complaint (a short last value, or a dropped
    # undefined-length element), so check that the last element ends where the bytes end.
    if not dataset._dict:
        raise InvalidObject("the data set is empty or truncated")
    last = dataset._dict[max(dataset._dict)]
    if not isinstance(last, RawDataElement):
        return
    size = path.stat().st_size
    if last.length == 0xFFFFFFFF:
        with path.open("rb") as f:
            f.seek(max(0, size - len(_SEQUENCE_DELIMITER)))
            if f.read() != _SEQUENCE_DELIMITER:
                raise InvalidObject(f"truncated: element {last.tag} has no sequence delimiter")
        return
    if last.value_tell + last.length != size:
        raise InvalidObject(
            f"truncated: element {last.tag} needs {last.length} bytes, "
            f"{size - last.value_tell} arrived"
        )


def text(dataset: Dataset, keyword: str, limit: int | None = None) -> str:
    """An attribute as text ('' when absent or empty); multiple values joined by backslash.
    A value pydicom cannot decode makes the object invalid (not an archive failure)."""
    try:
        value: Any = dataset.get(keyword)
    except Exception as exc:
        raise InvalidObject(f"{keyword} cannot be read: {exc}") from exc
    if value is None:
        return ""
    result = "\\".join(str(v) for v in value) if isinstance(value, MultiValue) else str(value)
    result = result.strip(" \x00")
    return result[:limit] if limit else result


def integer(dataset: Dataset, keyword: str) -> int | None:
    value = dataset.get(keyword)
    if value is None or value == "":
        return None
    try:
        return int(value[0] if isinstance(value, MultiValue) else value)
    except (TypeError, ValueError):
        return None


def person_name_keys(value: str | PersonName) -> tuple[str, str, str]:
    """The alphabetic, ideographic and phonetic groups as upper-cased match keys."""
    groups = ([*str(value).split("="), "", ""])[:3]
    return tuple(normalize_name(group) for group in groups)  # type: ignore[return-value]


def pinyin_columns(name: str) -> dict[str, str]:
    """The ``patients`` columns holding the pinyin search keys of ``name`` (initials ``ZS``,
    spelled ``ZHANGSAN``), so a name sent in Chinese characters only is found by letters."""
    initials, spelled = search_keys(name)
    return {"patient_name_initials": initials[:64], "patient_name_pinyin": spelled[:64]}


def normalize_name(group: str) -> str:
    """One name group as a key: components trimmed, empty trailing components dropped."""
    components = [part.strip() for part in group.split("^")]
    while components and not components[-1]:
        components.pop()
    return "^".join(components).upper()
