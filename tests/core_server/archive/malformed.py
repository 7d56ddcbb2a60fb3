"""Encoded objects that are not valid DICOM in the ways senders get it wrong."""

from __future__ import annotations

import struct

from pydicom import Dataset

from tests.dicom_data import encode, make_ct


def _element_at(data: bytes, tag: bytes) -> tuple[int, int]:
    """Start and end of the short-VR explicit little endian element with these tag bytes."""
    start = data.index(tag)
    return start, start + 8 + struct.unpack_from("<H", data, start + 6)[0]


def out_of_order(ds: Dataset | None = None) -> bytes:
    """The object with Patient's Name (0010,0010) moved after Study Instance UID (0020,000D)."""
    data = encode(ds or make_ct())
    start, end = _element_at(data, b"\x10\x00\x10\x00PN")
    name, rest = data[start:end], data[:start] + data[end:]
    after = _element_at(rest, b"\x20\x00\x0d\x00UI")[1]
    return rest[:after] + name + rest[after:]


def unknown_vr(ds: Dataset | None = None, tag: bytes = b"\x08\x00\x60\x00CS") -> bytes:
    """The object with the VR of one element (by default Modality) written as ``ZZ``."""
    data = encode(ds or make_ct())
    start = data.index(tag)
    return data[: start + 4] + b"ZZ" + data[start + 6 :]
