"""Compressing and decompressing stored objects through pydicom's own encoders and decoders
(pyjpegls for JPEG-LS, pylibjpeg-openjpeg for JPEG 2000, pydicom/pylibjpeg-rle for RLE): no
codec is written here. What is decided here is which objects may be compressed at all, and
the attributes a lossy compression must leave behind (PS3.3 C.7.6.1.1.5)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydicom import Dataset, dcmread
from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
)

import core_server.iso_ir_58  # noqa: F401  (pydicom gets ISO 2022 IR 58 wrong without it)

UNCOMPRESSED = (str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian))
LOSSLESS = (str(JPEGLSLossless), str(JPEG2000Lossless), str(RLELossless))
LOSSY = (str(JPEG2000),)  # with a target ratio
# Everything this module can encode to, the uncompressed syntaxes included.
PRODUCIBLE = (*UNCOMPRESSED, *LOSSLESS, *LOSSY)
# Syntaxes whose pixel data lost information when made (JPEG 2000 "4.91" may be lossless: its
# Lossy Image Compression attribute says which).
_LOSSY_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.93",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.203",
    }
)
_JPEG_LS = frozenset({"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"})
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_METHOD = {str(JPEG2000): "ISO_15444_1"}  # Lossy Image Compression Method (CID 7205)


class CannotCompress(ValueError):
    """The object is left as it is: no pixel data, video, already lossy, or beyond what the
    codec takes (e.g. 32-bit samples for JPEG 2000)."""


@dataclass(frozen=True)
class Target:
    """A transfer syntax to compress to; ``ratio`` only for lossy JPEG 2000 (e.g. 10 = 10:1)."""

    syntax: str
    ratio: float | None = None

    def __post_init__(self) -> None:
        if self.syntax not in PRODUCIBLE:
            raise ValueError(f"cannot encode to {self.syntax}")
        if (self.syntax in LOSSY) != (self.ratio is not None):
            raise ValueError("a ratio goes with lossy JPEG 2000 and only with it")
        if self.ratio is not None and not 1 < self.ratio <= 200:
            raise ValueError("the lossy ratio must be over 1 and at most 200")

    @property
    def lossy(self) -> bool:
        return self.ratio is not None


def why_not(ds: Dataset) -> str | None:
    """Why an object must not be (re)compressed, or None when it may be."""
    if not any(tag in ds for tag in _PIXEL_TAGS):
        return "no pixel data"  # SR, encapsulated PDF, KOS, presentation states...
    if 0x7FE00010 not in ds:
        return "floating point pixel data"
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    if syntax.is_compressed and not syntax.is_encapsulated:
        return "deflated"  # kept as the sender made it
    if _is_video(str(syntax)):
        return "video"
    if str(syntax) in _LOSSY_SYNTAXES or str(ds.get("LossyImageCompression", "")) == "01":
        return "already lossy"
    if int(ds.get("BitsAllocated", 0)) not in (8, 16):
        return f"{ds.get('BitsAllocated')}-bit samples"
    return None


def _is_video(syntax: str) -> bool:
    return syntax.startswith("1.2.840.10008.1.2.4.10") or syntax in (
        "1.2.840.10008.1.2.4.107",
        "1.2.840.10008.1.2.4.108",
    )


def decompressed(ds: Dataset) -> Dataset:
    """``ds`` with native pixel data, in place (same SOP Instance UID: a change of transfer
    syntax is the same object; pydicom 3 would mint a new one)."""
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    if syntax.is_compressed:
        # pyjpegls decodes JPEG-LS about 4x faster than pydicom's default (pylibjpeg-libjpeg):
        # 9 ms against 34 ms for a 512x512 CT slice here (bench/compression.py).
        plugin = "pyjpegls" if str(syntax) in _JPEG_LS else ""
        ds.decompress(generate_instance_uid=False, decoding_plugin=plugin)
    return ds


class _Stored(Protocol):
    @property
    def sop_class_uid(self) -> str: ...
    @property
    def transfer_syntax_uid(self) -> Any: ...


def proposals(stored: Iterable[_Stored], limit: int = 128) -> dict[str, list[str]]:
    """What to propose to a receiver of stored objects: per SOP class (at most ``limit``),
    their stored syntaxes, then the uncompressed ones, then the lossless ones
    :func:`for_receiver` can make (a receiver picks the first it takes, so these come last)."""
    wanted: dict[str, list[str]] = {}
    for instance in stored:
        syntaxes = wanted.setdefault(instance.sop_class_uid, [])
        for syntax in (str(instance.transfer_syntax_uid), *UNCOMPRESSED):
            if syntax not in syntaxes:
                syntaxes.append(syntax)
    for syntaxes in wanted.values():
        syntaxes.extend(s for s in LOSSLESS if s not in syntaxes)
    return dict(list(wanted.items())[:limit])


def for_receiver(path: str | Path, stored: str, accepted: set[str]) -> Dataset:
    """The stored object as a receiver that took ``accepted`` syntaxes (for its SOP class)
    can have it: as stored, decompressed, or compressed losslessly (the first of
    :data:`LOSSLESS` it took). The one choice for every sender: C-GET/C-MOVE and forwarding.
    Raises :class:`CannotCompress` when none fits."""
    if not accepted or stored in accepted:
        return dcmread(path)
    if accepted & set(UNCOMPRESSED):
        return decompressed(dcmread(path))
    for syntax in LOSSLESS:
        if syntax in accepted:
            return compressed(dcmread(path), Target(syntax), lossy_source=True)
    raise CannotCompress(f"no syntax of {sorted(accepted)} can be made from {stored}")


def compressed(ds: Dataset, target: Target, *, lossy_source: bool = False) -> Dataset:
    """``ds`` (any syntax) re-encoded to ``target`` in place. Raises :class:`CannotCompress`
    for an object that must stay as it is or that the encoder refuses. ``lossy_source``: an
    object already compressed lossily may be re-encoded (losslessly) all the same, as a
    retrieve in a syntax the receiver takes does; the archive's own files never are."""
    if target.syntax in UNCOMPRESSED:
        decompressed(ds)
        ds.file_meta.TransferSyntaxUID = UID(target.syntax)
        return ds
    reason = why_not(ds)
    if reason == "already lossy" and lossy_source and not target.lossy:
        reason = None
    if reason is not None:
        raise CannotCompress(reason)
    decompressed(ds)
    native = len(ds.PixelData)
    options: dict[str, object] = {}
    if target.lossy:
        options["j2k_cr"] = [target.ratio]
    try:
        ds.compress(target.syntax, generate_instance_uid=False, **options)  # type: ignore[arg-type]
    except (ValueError, RuntimeError, TypeError, NotImplementedError) as exc:
        raise CannotCompress(" ".join(str(exc).split())[:300]) from exc
    if target.lossy:
        _mark_lossy(ds, target, native / max(1, len(ds.PixelData)))
    return ds


def _mark_lossy(ds: Dataset, target: Target, achieved: float) -> None:
    """Lossy Image Compression "01", the Ratio achieved (native size over compressed) and the
    Method, appended to any earlier ones (PS3.3 C.7.6.1.1.5)."""
    ratios = [str(r) for r in _values(ds.get("LossyImageCompressionRatio"))]
    methods = [str(m) for m in _values(ds.get("LossyImageCompressionMethod"))]
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = [*ratios, f"{achieved:.2f}"]
    ds.LossyImageCompressionMethod = [*methods, _METHOD[target.syntax]]


def _values(value: object) -> list[object]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return list(value)
    try:
        return list(value)  # type: ignore[call-overload]
    except TypeError:
        return [value]


def encode(ds: Dataset) -> bytes:
    """A Part 10 file of ``ds`` in its file meta's transfer syntax."""
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    buffer = BytesIO()
    ds.save_as(
        buffer,
        enforce_file_format=True,
        implicit_vr=syntax.is_implicit_VR,
        little_endian=syntax.is_little_endian,
    )
    return buffer.getvalue()


def transcoded(data: bytes, target: Target) -> bytes:
    """A Part 10 object's bytes re-encoded to ``target`` (see :func:`compressed`)."""
    return encode(compressed(dcmread(BytesIO(data)), target))


def encoded_frames(data_path: Path, numbers: list[int], syntax: str) -> list[bytes]:
    """Frames (1-based) of a stored object encoded losslessly to ``syntax``: the whole object
    is transcoded, then the frames' bitstreams taken out (WADO-RS frames in a syntax other than
    the stored one)."""
    from pydicom.encaps import get_frame

    ds = compressed(dcmread(data_path), Target(syntax), lossy_source=True)
    count = max(1, int(ds.get("NumberOfFrames") or 1))
    return [get_frame(ds.PixelData, n - 1, number_of_frames=count) for n in numbers]


def same_pixels(first: Dataset, second: Dataset) -> bool:
    """Do two objects decode to the same samples (what a lossless round trip must keep)?"""
    return bool(np.array_equal(first.pixel_array, second.pixel_array))
