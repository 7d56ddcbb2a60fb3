"""Rewriting one stored DICOM object with corrected patient/study attributes.

The object is read with pydicom and written back in its own transfer syntax: elements that are
not changed (pixel data above all, compressed or not) are written from the bytes read, never
decoded. The old values go into an Original Attributes Sequence item (PS3.3 C.12.1, reason
``CORRECT``), as the standard asks of a system that modifies an object, so that the file itself
says what was changed, when and by whom. When the object's Specific Character Set cannot hold a
new value (a Chinese name into a default-repertoire object), the whole data set is decoded and
re-encoded as UTF-8 (``ISO_IR 192``); an object whose set can hold them keeps its set.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from datetime import datetime
from io import BytesIO
from pathlib import Path

from pydicom import Dataset, dcmread
from pydicom.charset import convert_encodings, decode_bytes, encode_string
from pydicom.sequence import Sequence

import core_server.iso_ir_58  # noqa: F401  (ISO 2022 IR 58 objects are read and written right)
from core_server.archive.objects import text

UTF8 = "ISO_IR 192"
MODIFYING_SYSTEM = "imaging-appliance archive"
# Request Attributes Sequence (0040,0275) carries the order an image was acquired for; these
# keywords live in its items, not at the top level of an image.
REQUEST_ITEM_KEYWORDS = frozenset(
    {
        "RequestedProcedureID",
        "RequestedProcedureDescription",
        "ScheduledProcedureStepID",
        "ScheduledProcedureStepDescription",
    }
)
# Top-level attributes also repeated in request items when the item has them.
_ALSO_IN_REQUEST_ITEMS = frozenset({"AccessionNumber"})
_DEFER = 4096  # large values (pixel data) are read only while writing, and only as bytes
_PN_DELIMITERS = {0x5E, 0x3D}  # ^ and = reset ISO 2022 code elements in names


def rewrite(path: Path, values: Mapping[str, str], when: datetime) -> bytes | None:
    """The encoded object at ``path`` with ``values`` (keyword -> new value) set, or None when
    it already holds every one of them."""
    ds = dcmread(path, defer_size=_DEFER)
    differing = {k: v for k, v in values.items() if differs(ds, k, v)}
    if not differing:
        return None
    if not _encodable(ds, differing.values()):
        ds.decode()  # every text value to str, so that all of them are re-encoded below
        ds.SpecificCharacterSet = UTF8
    original = _original_values(ds, differing)
    for keyword, value in differing.items():
        _set(ds, keyword, value)
    _record_original(ds, original, when)
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def differs(ds: Dataset, keyword: str, value: str) -> bool:
    """Whether the data set's value of ``keyword`` is not ``value``."""
    if keyword in REQUEST_ITEM_KEYWORDS:
        items = list(ds.get("RequestAttributesSequence") or [])
        return any(text(item, keyword) != value for item in items) if items else value != ""
    if keyword in _ALSO_IN_REQUEST_ITEMS and any(
        keyword in item and text(item, keyword) != value
        for item in ds.get("RequestAttributesSequence") or []
    ):
        return True
    return text(ds, keyword) != value


def _encodable(ds: Dataset, values: object) -> bool:
    """Whether the data set's character set holds every value (checked by a round trip:
    pydicom replaces what it cannot encode instead of failing)."""
    declared = ds.get("SpecificCharacterSet")
    if not declared or declared in ("ISO_IR 6", "ISO 2022 IR 6"):
        return all(str(v).isascii() for v in values)  # type: ignore[attr-defined]
    encodings = convert_encodings(ds._character_set)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for value in values:  # type: ignore[attr-defined]
            try:
                encoded = encode_string(value, encodings)
                if decode_bytes(encoded, encodings, _PN_DELIMITERS) != value:
                    return False
            except (UnicodeError, ValueError, LookupError):
                return False
    return True


def _original_values(ds: Dataset, keywords: Mapping[str, str]) -> Dataset:
    """The elements about to change, as they are (absent ones as empty, as PS3.3 asks)."""
    original = Dataset()
    for keyword in keywords:
        if keyword in REQUEST_ITEM_KEYWORDS or keyword in _ALSO_IN_REQUEST_ITEMS:
            if "RequestAttributesSequence" in ds:
                original["RequestAttributesSequence"] = copy.deepcopy(
                    ds["RequestAttributesSequence"]
                )
            else:
                original.RequestAttributesSequence = Sequence()
            if keyword in REQUEST_ITEM_KEYWORDS:
                continue
        if keyword in ds:
            original[keyword] = copy.deepcopy(ds[keyword])
        else:
            setattr(original, keyword, None)
    return original


def _set(ds: Dataset, keyword: str, value: str) -> None:
    if keyword in REQUEST_ITEM_KEYWORDS:
        if not ds.get("RequestAttributesSequence"):
            ds.RequestAttributesSequence = Sequence([Dataset()])
        for item in ds.RequestAttributesSequence:
            setattr(item, keyword, value)
        return
    if keyword in _ALSO_IN_REQUEST_ITEMS:
        for item in ds.get("RequestAttributesSequence") or []:
            if keyword in item:
                setattr(item, keyword, value)
    setattr(ds, keyword, value)


def _record_original(ds: Dataset, original: Dataset, when: datetime) -> None:
    item = Dataset()
    item.ModifiedAttributesSequence = Sequence([original])
    item.AttributeModificationDateTime = when.strftime("%Y%m%d%H%M%S.%f%z")
    item.ModifyingSystem = MODIFYING_SYSTEM
    item.SourceOfPreviousValues = ""
    item.ReasonForTheAttributeModification = "CORRECT"
    if "OriginalAttributesSequence" in ds:
        ds.OriginalAttributesSequence.append(item)
    else:
        ds.OriginalAttributesSequence = Sequence([item])
