"""Reading stored objects for DICOMweb: headers, re-encoding in another transfer syntax,
single frames and bulk data values."""

from __future__ import annotations

import logging
from io import BytesIO
from pathlib import Path

from pydicom import Dataset, dcmread
from pydicom.dataelem import RawDataElement
from pydicom.encaps import get_frame
from pydicom.pixels import pixel_array
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

import core_server.iso_ir_58  # noqa: F401  (pydicom gets ISO 2022 IR 58 wrong without it)
from core_server.dicomweb.dicom_json import BULK_THRESHOLD, PIXEL_DATA

log = logging.getLogger(__name__)
PIXEL_TAGS = (PIXEL_DATA, 0x7FE00008, 0x7FE00009)  # Pixel Data, Float and Double Float Pixel Data
# What any stored object can be turned into besides its own syntax.
UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


class NotAvailable(LookupError):
    """The object has no such frame or value, or cannot be given in the syntax asked for."""


# Every stored object has these; read before the pixel data, they are missing only from an
# object whose attributes are out of order (some after the pixel data).
_IDENTITY = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")


def header(path: Path) -> Dataset:
    """The attributes before the pixel data; large binary values are left on disk.

    An object whose attributes are out of ascending order (a sender's bug, stored before the
    archive checked for it) is read whole instead, the pixel data still left on disk, so that
    its attributes after the pixel data are not lost."""
    ds = dcmread(path, stop_before_pixels=True, defer_size=BULK_THRESHOLD)
    if all(keyword in ds for keyword in _IDENTITY):
        return ds
    log.warning("%s: attributes out of order (some after the pixel data); read whole", path)
    whole = dcmread(path, defer_size=BULK_THRESHOLD)
    for tag in PIXEL_TAGS:
        if tag in whole:
            del whole[tag]
    return whole


def has_pixel_data(path: Path) -> bool:
    """Whether the object has pixel data at all (a report, a key object note, or an image
    sent without its pixels has none): read up to it, its value left on disk."""
    ds = dcmread(path, defer_size=BULK_THRESHOLD, specific_tags=list(PIXEL_TAGS))
    return any(tag in ds for tag in PIXEL_TAGS)


def reencoded(path: Path, syntax: str) -> bytes:
    """The whole object (Part 10) in an uncompressed syntax; compressed pixel data is decoded
    (pylibjpeg, pyjpegls). The SOP Instance UID is kept: a change of transfer syntax is the same
    object."""
    target = UID(syntax)
    if target not in UNCOMPRESSED:
        raise NotAvailable(f"cannot convert to transfer syntax {syntax}")
    ds = dcmread(path)
    if not ds.file_meta.TransferSyntaxUID.is_little_endian:
        raise NotAvailable("objects stored big endian are only given as stored")
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress(generate_instance_uid=False)
    ds.file_meta.TransferSyntaxUID = target
    buffer = BytesIO()
    ds.save_as(
        buffer, enforce_file_format=True, implicit_vr=target.is_implicit_VR, little_endian=True
    )
    return buffer.getvalue()


def frame_count(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def stored_frames(path: Path, numbers: list[int]) -> tuple[list[bytes], str]:
    """Frames (1-based) as stored: the compressed bitstreams for an encapsulated syntax, the
    native little-endian bytes otherwise. Returns them with the syntax they are in."""
    ds = dcmread(path, defer_size=BULK_THRESHOLD)
    syntax = str(ds.file_meta.TransferSyntaxUID)
    if PIXEL_DATA not in ds:
        raise NotAvailable(_NO_PIXELS if not any(t in ds for t in PIXEL_TAGS) else _FLOAT_PIXELS)
    count = _check_numbers(ds, numbers)
    if ds.file_meta.TransferSyntaxUID.is_encapsulated:
        data = ds.PixelData
        return [get_frame(data, n - 1, number_of_frames=count) for n in numbers], syntax
    if not ds.file_meta.TransferSyntaxUID.is_little_endian:
        return decoded_frames(path, numbers), str(ExplicitVRLittleEndian)
    bits = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1))
    bits *= int(ds.BitsAllocated)
    if bits % 8:
        return decoded_frames(path, numbers), str(ExplicitVRLittleEndian)
    size = bits // 8
    raw = ds.get_item(PIXEL_DATA)
    frames = []
    if isinstance(raw, RawDataElement) and raw.value is None:
        # Deferred: read each frame from the file, never the whole pixel data.
        with path.open("rb") as f:
            for n in numbers:
                f.seek(raw.value_tell + (n - 1) * size)
                frames.append(f.read(size))
    else:
        data = ds.PixelData
        frames = [data[(n - 1) * size : n * size] for n in numbers]
    return frames, syntax


def decoded_frames(path: Path, numbers: list[int]) -> list[bytes]:
    """Frames decoded to native little-endian samples (colour as stored, not converted)."""
    ds = header(path)
    _check_numbers(ds, numbers)
    if not has_pixel_data(path):
        raise NotAvailable(_NO_PIXELS)
    return [
        pixel_array(path, index=n - 1, raw=True).astype("<" + _dtype(ds)).tobytes() for n in numbers
    ]


def _dtype(ds: Dataset) -> str:
    bits = int(ds.BitsAllocated)
    kind = "i" if int(ds.get("PixelRepresentation", 0)) else "u"
    return f"{kind}{max(1, bits // 8)}"


_NO_PIXELS = "the object has no pixel data (it holds no frames)"
_FLOAT_PIXELS = "the object's pixel data is floating point: its frames are not served"


def _check_numbers(ds: Dataset, numbers: list[int]) -> int:
    if "Rows" not in ds:
        raise NotAvailable(_NO_PIXELS)
    count = frame_count(ds)
    for n in numbers:
        if not 1 <= n <= count:
            raise NotAvailable(f"frame {n} does not exist: the object has {count}")
    return count


def bulk_value(path: Path, tag_path: str) -> bytes:
    """The value of one (possibly nested) attribute named like ``00420011`` or
    ``00540016/0/00181072`` (sequence tag, item index, tag...)."""
    parts = [p for p in tag_path.strip("/").split("/") if p]
    if not parts or len(parts) % 2 == 0:
        raise NotAvailable(f"not a bulk data path: {tag_path!r}")
    try:
        tags = [int(p, 16) for p in parts[::2]]
        items = [int(p) for p in parts[1::2]]
    except ValueError:
        raise NotAvailable(f"not a bulk data path: {tag_path!r}") from None
    ds: Dataset = dcmread(path)
    for tag, index in zip(tags[:-1], items, strict=True):
        if tag not in ds or ds[tag].VR != "SQ" or index >= len(ds[tag].value):
            raise NotAvailable(f"no attribute at {tag_path!r}")
        ds = ds[tag].value[index]
    if tags[-1] not in ds:
        raise NotAvailable(f"no attribute at {tag_path!r}")
    value = ds[tags[-1]].value
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    raise NotAvailable(f"attribute at {tag_path!r} is not a binary value")
