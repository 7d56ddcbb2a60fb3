"""What a client's Accept header asks for (PS3.18 8.7): media types, their ``type`` and
``transfer-syntax`` parameters, in order of preference."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.uid import UID, ExplicitVRLittleEndian

from core_server.dicomweb.instances import UNCOMPRESSED
from core_server.storage.compression.codecs import LOSSLESS


@dataclass(frozen=True)
class MediaRange:
    media_type: str  # lower case, e.g. "multipart/related", "application/dicom", "*/*"
    params: dict[str, str] = field(default_factory=dict)  # keys lower case, values unquoted
    q: float = 1.0

    @property
    def part_type(self) -> str:
        """The media type of the parts: the ``type`` parameter of a multipart range."""
        if self.media_type == "multipart/related":
            return self.params.get("type", "").lower()
        return self.media_type

    @property
    def transfer_syntax(self) -> str | None:
        return self.params.get("transfer-syntax")


class NotAcceptable(ValueError):
    """None of the representations the client accepts can be given (406)."""


def parse_accept(header: str | None) -> list[MediaRange]:
    """The Accept header's media ranges, most preferred first; none given means ``*/*``."""
    ranges: list[MediaRange] = []
    for item in split_outside_quotes(header or "", ","):
        pieces = split_outside_quotes(item, ";")
        if not pieces or not pieces[0].strip():
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 1.0
        if q > 0:
            ranges.append(MediaRange(pieces[0].strip().lower(), params, q))
    ranges.sort(key=lambda r: -r.q)  # stable: equal weights keep the client's order
    return ranges or [MediaRange("*/*")]


def split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _wildcard(media_type: str) -> bool:
    return media_type in ("*/*", "*", "multipart/*")


def instance_syntax(ranges: list[MediaRange], stored: str) -> str:
    """The transfer syntax to send a stored object in, for a retrieve of whole instances
    (``multipart/related; type="application/dicom"``). A range without a transfer-syntax means
    explicit VR little endian (PS3.18 Table 8.7.3-2), so does ``*/*`` (an object that cannot
    be converted, stored big endian, then comes as stored); ``*`` means as stored."""
    little_endian = UID(stored).is_little_endian
    for r in ranges:
        wildcard = _wildcard(r.media_type)
        if not wildcard and r.media_type not in ("multipart/related", "application/dicom"):
            continue
        if r.media_type == "multipart/related" and not (
            r.part_type in ("application/dicom", "") or _wildcard(r.part_type)
        ):
            continue
        wanted = r.transfer_syntax
        if wanted is None:
            if wildcard and not little_endian:
                return stored
            wanted = str(ExplicitVRLittleEndian)
        if wanted in ("*", stored):
            return stored
        if (UID(wanted) in UNCOMPRESSED or wanted in LOSSLESS) and little_endian:
            return wanted  # decoded, and encoded again for a lossless compressed syntax
    raise NotAcceptable(
        f"no acceptable transfer syntax for an object stored as {stored} "
        f"(available: as stored, {', '.join((*UNCOMPRESSED, *LOSSLESS))})"
    )


# Media types of compressed frames (PS3.18 Table 8.7.4-1 and its neighbours).
FRAME_MEDIA_TYPES = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx",
    "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
    "1.2.840.10008.1.2.4.100": "video/mpeg",
    "1.2.840.10008.1.2.4.101": "video/mpeg",
    "1.2.840.10008.1.2.4.102": "video/mp4",
    "1.2.840.10008.1.2.4.103": "video/mp4",
    "1.2.840.10008.1.2.4.104": "video/mp4",
    "1.2.840.10008.1.2.4.105": "video/mp4",
    "1.2.840.10008.1.2.4.106": "video/mp4",
    "1.2.840.10008.1.2.4.107": "video/H265",
    "1.2.840.10008.1.2.4.108": "video/H265",
}
# The frame media types we can encode frames to, and their default syntax (PS3.18 8.7.4).
ENCODABLE_FRAMES = {
    "image/jls": "1.2.840.10008.1.2.4.80",
    "image/jp2": "1.2.840.10008.1.2.4.90",
    "image/dicom-rle": "1.2.840.10008.1.2.5",
}


@dataclass(frozen=True)
class FrameChoice:
    media_type: str  # of each part
    syntax: str  # the frames' transfer syntax
    as_stored: bool  # False: decode to native samples (or, with ``encode``, re-encode)
    encode: bool = False  # decode, then encode to ``syntax`` (a lossless one we can make)


def frame_choice(ranges: list[MediaRange], stored: str) -> FrameChoice:
    """How to send frames or bulk pixel data: the stored bitstream (when its syntax is accepted
    or ``transfer-syntax=*``) or native little-endian samples (``application/octet-stream``
    without a transfer-syntax, the standard's default, also for ``*/*``)."""
    compressed = UID(stored).is_compressed
    stored_type = FRAME_MEDIA_TYPES.get(stored, "application/octet-stream")
    for r in ranges:
        if _wildcard(r.media_type):
            part = "application/octet-stream"
        elif r.media_type in ("multipart/related", "application/octet-stream"):
            part = r.part_type or "application/octet-stream"
        else:
            continue
        wanted = r.transfer_syntax
        if part == "application/octet-stream" or _wildcard(part):
            if wanted in ("*", stored) or (wanted is None and not compressed):
                return FrameChoice("application/octet-stream", stored, True)
            if wanted is None or UID(wanted) == ExplicitVRLittleEndian:
                return FrameChoice("application/octet-stream", str(ExplicitVRLittleEndian), False)
            continue
        if compressed and part == stored_type and wanted in (None, "*", stored):
            return FrameChoice(stored_type, stored, True)
        made = _encodable(part, wanted, stored)
        if made is not None:
            return FrameChoice(part, made, False, encode=True)
    raise NotAcceptable(
        f"frames stored as {stored} can be had as {stored_type}, as native "
        f"application/octet-stream or as {', '.join(ENCODABLE_FRAMES)}"
    )


def _encodable(part: str, wanted: str | None, stored: str) -> str | None:
    """The lossless syntax to encode frames to for a part media type (and the client's
    transfer-syntax, which must be that type's), or None."""
    default = ENCODABLE_FRAMES.get(part)
    if default is None or not UID(stored).is_little_endian:
        return None
    syntax = default if wanted in (None, "*") else wanted
    if syntax not in LOSSLESS or FRAME_MEDIA_TYPES.get(syntax) != part:
        return None
    return syntax


# Data sets (search results, metadata, the STOW response) in the JSON or the XML model.
DICOM_JSON = "application/dicom+json"
DICOM_XML = "application/dicom+xml"
_JSON_RANGES = (DICOM_JSON, "application/json", "application/*", "*/*", "*")


def dataset_media(ranges: list[MediaRange], *, multipart_xml: bool) -> str:
    """:data:`DICOM_JSON` or :data:`DICOM_XML`, whichever the client prefers. Searches and
    metadata give XML as ``multipart/related; type="application/dicom+xml"`` (one data set a
    part, PS3.18 8.7.3.4): ``multipart_xml``; the STOW response as one
    ``application/dicom+xml`` document."""
    for r in ranges:
        if r.media_type in _JSON_RANGES:
            return DICOM_JSON
        multipart = r.media_type in ("multipart/related", "multipart/*")
        if multipart_xml and multipart and r.part_type == DICOM_XML:
            return DICOM_XML
        if not multipart_xml and r.media_type == DICOM_XML:
            return DICOM_XML
    xml = f'multipart/related; type="{DICOM_XML}"' if multipart_xml else DICOM_XML
    raise NotAcceptable(f"this resource is given as {DICOM_JSON} or as {xml}")
