"""A walk over a received Part 10 file that picks out only the attributes the index needs.

pydicom's ``dcmread`` builds an element for every attribute of the header (about a hundred
in a CT slice), which was a fifth of the server's Python CPU per stored object. This walk steps
over the encoded elements (skipping sequences and pixel data by their lengths and delimiters,
through a memory map, so pixel data is never read) and hands the wanted ones to pydicom as raw
elements: pydicom still decodes their values, with the object's character set. It also proves
the object complete (the last element must end where the file ends) and well formed where a
later reader depends on it: top-level elements in increasing tag order, each once (PS3.5 7.1;
pydicom keeps them in file order, and a study's metadata then broke), and only known VRs.

Only little endian syntaxes are walked, explicit or implicit VR; anything else (deflated, big
endian), or bytes the walk cannot follow, returns None and the caller reads the file with
pydicom, which then gives the precise error.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.tag import BaseTag

# Every attribute the index reads (see ingest.py), and the character set that decodes them.
INDEXED = (
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "InstanceNumber",
    "NumberOfFrames",
    "Rows",
    "Columns",
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "BodyPartExamined",
    "SeriesDate",
    "SeriesTime",
    "StationName",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyID",
    "StudyDescription",
    "ReferringPhysicianName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
)
_WANTED = frozenset(int(tag_for_keyword(keyword) or 0) for keyword in INDEXED)
_KEYWORDS = {int(tag_for_keyword(keyword) or 0): keyword for keyword in INDEXED}
_DICTIONARY_VR = {tag: dictionary_VR(tag) for tag in _WANTED}
# Values read without pydicom when single and ASCII: these VRs need no character set, and
# pydicom gives them back as the bytes less their padding (tested against it).
_PLAIN_VRS = frozenset({"UI", "DA", "TM", "CS"})
_EXPLICIT, _IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
# Transfer syntaxes whose data set is explicit VR little endian (all but implicit, deflated
# and big endian): the native one and every encapsulated (compressed) one.
_NOT_WALKED = frozenset({"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"})
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
# PS3.5 Table 6.2-1: an explicit VR outside this set is an error, not something to guess at.
_KNOWN_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL"
    b" UN UR US UT UV".split()
)
# Pixel Data, Float Pixel Data, Double Float Pixel Data: an image object has one of them.
PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
_TAG = struct.Struct("<HH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF


class _Unwalkable(Exception):
    """Bytes this walk does not follow; pydicom reads the file instead."""


class Truncated(ValueError):
    """The object ends before its last element does."""


class Malformed(ValueError):
    """The object is complete but not valid DICOM (elements out of order, an unknown VR)."""


def read(path: Path) -> tuple[Header, str] | None:
    """The indexed attributes of a Part 10 file and its transfer syntax UID, or None when this
    walk cannot read it. Raises :class:`Truncated` for an incomplete object, :class:`Malformed`
    for one out of order or with an unknown VR."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # not a Python file: fewer system calls
    try:
        data = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except ValueError:  # an empty file
        return None
    finally:
        os.close(fd)
    with data:
        try:
            return _walk_file(data)
        except _Unwalkable:
            return None


def _walk_file(data: mmap.mmap) -> tuple[Header, str]:
    if len(data) < 144 or data[128:132] != b"DICM":
        raise _Unwalkable
    meta: dict[int, bytes] = {}
    offset = 132
    while offset + 8 <= len(data) and data[offset : offset + 2] == b"\x02\x00":
        offset = _element(data, offset, False, meta, None)[0]
    syntax = meta.get(0x00020010, b"").rstrip(b"\x00 ").decode("ascii", "replace")
    if not syntax or syntax in _NOT_WALKED:
        raise _Unwalkable
    implicit = syntax == _IMPLICIT
    found: dict[int, bytes] = {}
    vrs: dict[int, str | None] = {}
    previous, pixels = 0, False
    while offset < len(data):
        offset, tag = _element(data, offset, implicit, found, vrs)
        if tag <= previous:
            raise Malformed(f"element {_name(tag)} comes after {_name(previous)}: out of order")
        previous = tag
        pixels = pixels or tag in PIXEL_TAGS
    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    plain: dict[str, object] = {}
    for tag, value in found.items():
        vr = vrs[tag] or _DICTIONARY_VR[tag]
        if vr in _PLAIN_VRS and b"\\" not in value and value.isascii():
            plain[_KEYWORDS[tag]] = value.decode("ascii").strip(" \x00")
        elif vr == "US" and len(value) == 2:
            plain[_KEYWORDS[tag]] = int.from_bytes(value, "little")
        elif vr == "IS" and value.strip(b" \x00").isdigit():
            plain[_KEYWORDS[tag]] = int(value)
        tag_ = BaseTag(tag)
        elements[tag_] = RawDataElement(tag_, vrs[tag], len(value), value, 0, implicit, True)
    return Header(elements, plain, pixels), syntax


def _name(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


class Header(Dataset):
    """The walked attributes. ``get`` answers single ASCII values of plain VRs, and unsigned
    shorts, without pydicom's element conversion; the rest pydicom decodes. ``has_pixels``:
    the object holds (float or double float) pixel data."""

    def __init__(
        self,
        elements: dict[BaseTag, DataElement | RawDataElement],
        plain: dict[str, object],
        has_pixels: bool,
    ) -> None:
        super().__init__(elements)
        self._plain = plain
        self.has_pixels = has_pixels

    def get(self, key: Any, default: Any = None) -> Any:
        if isinstance(key, str) and key in self._plain:
            return self._plain[key]
        return super().get(key, default)


def _element(
    data: mmap.mmap,
    offset: int,
    implicit: bool,
    found: dict[int, bytes],
    vrs: dict[int, str | None] | None,
) -> tuple[int, int]:
    """Step over one element at ``offset``; keep its value if wanted. The offset after it, and
    the element's tag."""
    end = len(data)
    if offset + 8 > end:
        raise Truncated(f"truncated: {end - offset} bytes where an element header starts")
    group, number = _TAG.unpack_from(data, offset)
    tag = group << 16 | number
    vr: bytes | None = None
    if implicit:
        length = _U32.unpack_from(data, offset + 4)[0]
        offset += 8
    else:
        vr = data[offset + 4 : offset + 6]
        if vr in _LONG_VRS:
            if offset + 12 > end:
                raise Truncated("truncated in an element header")
            length = _U32.unpack_from(data, offset + 8)[0]
            offset += 12
        elif vr in _KNOWN_VRS:
            length = _U16.unpack_from(data, offset + 6)[0]
            offset += 8
        elif vr.isalpha() and vr.isupper():
            raise Malformed(f"element {_name(tag)} has the unknown VR {vr.decode()!r}")
        else:
            raise _Unwalkable  # not an explicit VR where one should be
    if length == _UNDEFINED:
        if vrs is None:
            raise _Unwalkable
        return _skip_items(data, offset, implicit), tag
    if offset + length > end:
        raise Truncated(
            f"truncated: element ({group:04X},{number:04X}) needs {length} bytes, "
            f"{end - offset} arrived"
        )
    if vrs is None or tag in _WANTED:
        found[tag] = data[offset : offset + length]
        if vrs is not None:
            vrs[tag] = None if vr is None else vr.decode("ascii")
    return offset + length, tag


def _skip_items(data: mmap.mmap, offset: int, implicit: bool) -> int:
    """Step over the items of an undefined-length sequence or encapsulated pixel data, up to
    and including its sequence delimiter."""
    end = len(data)
    while True:
        if offset + 8 > end:
            raise Truncated("truncated: a sequence has no delimiter")
        group, number = _TAG.unpack_from(data, offset)
        length = _U32.unpack_from(data, offset + 4)[0]
        tag = group << 16 | number
        offset += 8
        if tag == _SEQUENCE_END:
            return offset
        if tag != _ITEM:
            raise _Unwalkable
        if length != _UNDEFINED:
            if offset + length > end:
                raise Truncated("truncated inside a sequence item")
            offset += length
            continue
        while True:  # an undefined-length item: its elements, then the item delimiter
            if offset + 8 > end:
                raise Truncated("truncated: a sequence item has no delimiter")
            if _TAG.unpack_from(data, offset) == (0xFFFE, 0xE00D):
                offset += 8
                break
            offset = _element(data, offset, implicit, {}, {})[0]
