"""The DICOM JSON model (PS3.18 F.2): stored objects and index answers as JSON.

Large binary values are not inlined: they become a ``BulkDataURI`` relative to the DICOMweb
root (``studies/.../instances/.../bulk/<tag path>``). :func:`absolute_bulk_uris` turns the
encoded text into absolute URIs for one request, so that encoded instances can be cached
whatever host name a client used.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.tag import BaseTag, Tag

import core_server.iso_ir_58  # noqa: F401  (pydicom gets ISO 2022 IR 58 wrong without it)

log = logging.getLogger(__name__)
BULK_THRESHOLD = 1024  # binary values longer than this are bulk data
_BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
_BULK_KEY = '"BulkDataURI":"'
PIXEL_DATA = 0x7FE00010
# Encoded directly (see _fast): the VRs that make up most of an image header.
_NUMBERS = {
    "US": (2, "H"),
    "SS": (2, "h"),
    "UL": (4, "I"),
    "SL": (4, "i"),
    "FL": (4, "f"),
    "FD": (8, "d"),
}
_FAST = {"AE", "AS", "CS", "DA", "DT", "TM", "UI", "IS", "DS", *_NUMBERS}
_FAST_ENABLED = True


def tag_of(name: str) -> int | None:
    """A keyword (``PatientName``) or an 8-digit hex tag (``00100010``) as a tag number."""
    name = name.strip()
    if len(name) == 8 and all(c in "0123456789abcdefABCDEF" for c in name):
        return int(name, 16)
    return tag_for_keyword(name)


def keyword_of(name: str) -> str | None:
    tag = tag_of(name)
    if tag is None:
        return None
    return keyword_for_tag(tag) or None


def dataset_json(ds: Dataset, bulk_prefix: str, *, pixel_data: str | None = None) -> dict[str, Any]:
    """An object's attributes (file meta and group lengths left out). ``bulk_prefix`` is the
    instance's URI relative to the DICOMweb root; ``pixel_data`` the VR of a pixel data element
    that was not read (the file was read without it) and must still be announced."""
    out = _dataset(ds, f"{bulk_prefix}/bulk/")
    if "00080005" in out:
        # Every value is Unicode now; the JSON model is UTF-8.
        out["00080005"] = {"vr": "CS", "Value": ["ISO_IR 192"]}
    if pixel_data and f"{PIXEL_DATA:08X}" not in out:
        out[f"{PIXEL_DATA:08X}"] = {"vr": pixel_data, "BulkDataURI": f"{bulk_prefix}/bulk/7FE00010"}
    return out


def _dataset(ds: Dataset, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    little_endian = bool(getattr(ds, "is_little_endian", False)) and _FAST_ENABLED
    for tag in ds.keys():  # noqa: SIM118  (iterating a Dataset would read every value)
        if tag.element == 0 or tag.group == 2:
            continue
        key = f"{tag:08X}"
        raw = ds.get_item(tag)
        if isinstance(raw, RawDataElement) and raw.value is None:
            # Deferred when read (a large value): a binary one is never loaded, only announced.
            vr = raw.VR or dictionary_vr(tag)
            if vr in _BINARY_VRS:
                out[key] = {"vr": vr, "BulkDataURI": prefix + key}
                continue
        if little_endian and isinstance(raw, RawDataElement) and raw.VR in _FAST:
            fast = _fast(raw.VR, raw.value)
            if fast is not None:
                out[key] = fast
                continue
        try:
            out[key] = _element(ds[tag], prefix + key)
        except Exception as exc:  # a value pydicom cannot convert: given as its stored bytes
            out[key] = _unconverted(raw, tag, exc)
    return out


def _unconverted(raw: Any, tag: BaseTag, exc: Exception) -> dict[str, Any]:
    """An element whose value does not fit its VR (``IS`` of ``abc``, a ``US`` of 3 bytes, an
    unknown VR): the stored bytes as ``UN`` (PS3.18 F.2.7 allows it), so nothing is hidden and
    one odd value never costs the whole object its metadata."""
    log.warning("attribute %s cannot be converted (%s): given as UN", tag_name(tag), exc)
    value = getattr(raw, "value", None)
    if isinstance(value, bytes | bytearray) and value:
        return {"vr": "UN", "InlineBinary": base64.b64encode(bytes(value)).decode("ascii")}
    return {"vr": "UN"}


def _fast(vr: str, value: bytes) -> dict[str, Any] | None:
    """The JSON of a still-encoded value of a VR that needs no character set, the same as
    pydicom's conversion gives (which costs several times more); None: leave it to pydicom."""
    if vr in _NUMBERS:
        size, code = _NUMBERS[vr]
        if len(value) % size:
            return None
        unpacked = list(struct.unpack(f"<{len(value) // size}{code}", value))
        return {"vr": vr, "Value": unpacked} if unpacked else {"vr": vr}
    text = value.decode("latin-1")
    if vr == "AE":
        items = [item.strip() for item in text.split("\\")]
    else:
        items = text.rstrip(" \x00").split("\\")
    if len(items) == 1 and not items[0]:
        return {"vr": vr}
    if vr in ("IS", "DS"):
        try:
            numbers: list[Any] = [int(i) if vr == "IS" else float(i) for i in items]
        except ValueError:
            return None  # empty or unusual values: pydicom's rules
        return {"vr": vr, "Value": numbers}
    return {"vr": vr, "Value": items}


def _element(element: DataElement, path: str) -> dict[str, Any]:
    if element.VR == "SQ":
        items = [_dataset(item, f"{path}/{i}/") for i, item in enumerate(element.value)]
        return {"vr": "SQ", "Value": items} if items else {"vr": "SQ"}
    if element.VR in _BINARY_VRS and element.value is not None:
        length = len(element.value) if isinstance(element.value, bytes | bytearray) else 0
        if length > BULK_THRESHOLD:
            return {"vr": element.VR, "BulkDataURI": path}
    return element.to_json_dict(None, BULK_THRESHOLD)


def dictionary_vr(tag: int) -> str:
    """The VR the dictionary gives a tag, one valid VR (``OB or OW`` becomes ``OW``)."""
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return "UN"  # private or unknown, read implicit: its VR cannot be known
    return "OW" if vr in ("OB or OW", "US or OW", "US or SS or OW") else vr


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def absolute_bulk_uris(text: str, root: str) -> str:
    """Encoded JSON with its relative BulkDataURIs made absolute under ``root``."""
    return text.replace(_BULK_KEY, _BULK_KEY + root)


def answer_json(
    answer: Mapping[str, Any], keywords: Iterable[str], retrieve_url: str | None
) -> dict[str, Any]:
    """One index answer (keyword -> value, as the archive's matching gives it) as JSON."""
    out: dict[str, Any] = {}
    for keyword in keywords:
        if keyword not in answer:
            continue
        tag = tag_for_keyword(keyword)
        if tag is None:
            continue
        out[f"{tag:08X}"] = attribute(dictionary_VR(tag), answer[keyword])
    if retrieve_url:
        out["00081190"] = {"vr": "UR", "Value": [retrieve_url]}
    return dict(sorted(out.items()))


def attribute(vr: str, value: Any) -> dict[str, Any]:
    """A plain value (text as DICOM writes it, a number or a list) as a JSON attribute."""
    if value is None or value == "" or value == []:
        return {"vr": vr}
    values = value if isinstance(value, list) else _split(value)
    if vr == "PN":
        return {"vr": vr, "Value": [_person_name(str(v)) for v in values]}
    if vr in ("IS", "US", "UL", "SS", "SL", "SV", "UV"):
        return {"vr": vr, "Value": [int(v) if v not in ("", None) else None for v in values]}
    if vr in ("DS", "FL", "FD"):
        return {"vr": vr, "Value": [_number(v) for v in values]}
    return {"vr": vr, "Value": [v if v != "" else None for v in values]}


def _split(value: Any) -> list[Any]:
    if isinstance(value, str):
        return value.split("\\")
    return [value]


def _number(value: Any) -> float | int | None:
    if value in ("", None):
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def _person_name(value: str) -> dict[str, str]:
    groups = value.split("=")
    names = dict(zip(("Alphabetic", "Ideographic", "Phonetic"), groups, strict=False))
    return {group: text for group, text in names.items() if text}


def tag_name(tag: int | BaseTag) -> str:
    return f"{Tag(tag):08X}"
