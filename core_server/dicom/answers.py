"""C-FIND answers encoded without pydicom's writer, for the element kinds answers are made of.

An answer is a flat data set of short text values (names, IDs, dates, UIDs, code strings,
numbers as IS), a few US/UL counts and empty sequences: an :class:`Answer`, its elements as
(tag, VR, value), made into a pydicom data set only where pydicom must have one (pynetdicom's
association path, the fallback below). pydicom's generic writer spent half the server's CPU of
a study-level C-FIND on them, and building the data set a fifth more (README, "Where the time
went"). This writer produces the same bytes (tests compare them) in implicit or explicit VR
little endian, in ASCII or a character set without code extensions (UTF-8, GB18030, GBK,
Latin-1), with sequences of such items (a worklist answer's steps and codes: defined lengths,
as pydicom writes them); anything else (ISO 2022 escapes, big endian, binary VRs) answers None
and the caller falls back to pydicom.
"""

from __future__ import annotations

import operator
import struct
from dataclasses import dataclass, field
from typing import Any

from pydicom import Dataset, config
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

# Text VRs pydicom encodes with the data set's character set; the others are ASCII.
_CHARSET_VRS = frozenset(("LO", "LT", "PN", "SH", "ST", "UC", "UT"))
_TEXT = _CHARSET_VRS | frozenset(("AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"))
_LONG = frozenset(("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"))
_BINARY = {"US": "<H", "UL": "<I", "SS": "<h", "SL": "<i"}
# Character sets whose text is one plain codec, without ISO 2022 escape sequences.
_CODECS = {"": "ascii", "ISO_IR 6": "ascii", "ISO_IR 192": "utf_8", "GB18030": "gb18030"}
_CODECS |= {"GBK": "gbk", "ISO_IR 100": "latin_1"}
_CHARSET_TAG = 0x00080005
_TAG = operator.itemgetter(0)
_ITEM = struct.pack("<HH", 0xFFFE, 0xE000)
_IMPLICIT = struct.Struct("<HHI")
_EXPLICIT_SHORT = struct.Struct("<HH2sH")
_EXPLICIT_LONG = struct.Struct("<HH2sHI")


class Unsupported(Exception):
    """An element this writer leaves to pydicom."""


@dataclass
class Answer:
    """One C-FIND answer: its elements as (tag, VR, value), in any order, and its Specific
    Character Set (defined terms; none: the default repertoire). A sequence's value is None
    (empty) or a list of items, each a list of (tag, VR, value) like the answer's."""

    elements: list[tuple[int, str, Any]] = field(default_factory=list)
    charset: list[str] = field(default_factory=list)

    def dataset(self) -> Dataset:
        ds = Dataset()
        if self.charset:
            ds.SpecificCharacterSet = self.charset if len(self.charset) > 1 else self.charset[0]
        _add(ds, self.elements)
        return ds


def _add(ds: Dataset, elements: list[tuple[int, str, Any]]) -> None:
    for tag, vr, value in elements:
        if vr == "SQ":
            items = []
            for source in value or ():
                item = Dataset()
                _add(item, source)
                items.append(item)
            value = Sequence(items)
        # Values from our own index: pydicom's check of each value is skipped (cheaper).
        ds.add(DataElement(tag, vr, value, validation_mode=config.IGNORE))


def encode(answer: Answer, implicit: bool) -> bytes | None:
    """``answer`` in implicit or explicit VR little endian; None when pydicom must do it."""
    terms, elements = answer.charset or None, answer.elements
    try:
        codec = _codec(terms)
        if terms:
            elements = [*elements, (_CHARSET_TAG, "CS", terms)]
        return _elements(elements, implicit, codec)
    except (Unsupported, UnicodeError, struct.error, AttributeError, TypeError):
        return None


def _elements(elements: list[tuple[int, str, Any]], implicit: bool, codec: str) -> bytes:
    parts = []
    for tag, vr, value in sorted(elements, key=_TAG):
        if vr == "SQ" and value:
            raw = b"".join(_item(item, implicit, codec) for item in value)
        else:
            raw = _value(vr, value, codec)
        group, number = tag >> 16, tag & 0xFFFF
        if implicit:
            parts.append(_IMPLICIT.pack(group, number, len(raw)))
        elif vr in _LONG:
            parts.append(_EXPLICIT_LONG.pack(group, number, vr.encode(), 0, len(raw)))
        elif len(raw) <= 0xFFFF:
            parts.append(_EXPLICIT_SHORT.pack(group, number, vr.encode(), len(raw)))
        else:
            raise Unsupported("value too long for its VR")
        parts.append(raw)
    return b"".join(parts)


def _item(elements: list[tuple[int, str, Any]], implicit: bool, codec: str) -> bytes:
    """A sequence item with its defined length (the item tag, the length, the elements)."""
    body = _elements(elements, implicit, codec)
    return _ITEM + struct.pack("<I", len(body)) + body


def _codec(value: Any) -> str:
    if value is None:
        return "ascii"
    terms = [value] if isinstance(value, str) else list(value)
    if len(terms) != 1 or str(terms[0]).strip() not in _CODECS:
        raise Unsupported("character set with code extensions")
    return _CODECS[str(terms[0]).strip()]


def _value(vr: str, value: Any, codec: str) -> bytes:
    if value is None or value == "":
        return b""
    if vr in _TEXT:
        if type(value) is str:  # the common case, before the (ABC) instance checks
            text = value
        elif isinstance(value, MultiValue | list | tuple):
            text = "\\".join(str(v) for v in value)
        else:
            text = str(value)
        raw = text.encode(codec if vr in _CHARSET_VRS else "ascii")
        if len(raw) % 2:
            raw += b"\x00" if vr == "UI" else b" "
        return raw
    if vr in _BINARY:
        values = value if isinstance(value, MultiValue | list | tuple) else [value]
        return b"".join(struct.pack(_BINARY[vr], int(v)) for v in values)
    if vr == "SQ" and not value:
        return b""
    raise Unsupported(vr)
