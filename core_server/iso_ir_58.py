"""A correct codec for the DICOM character set ``ISO 2022 IR 58`` (GB 2312 with code
extensions), which pydicom gets wrong; installed into pydicom for the whole process by
importing this module (every reader of DICOM text needs it: ingest, matching, answers)."""

from __future__ import annotations

import codecs
from typing import Any

import pydicom.charset

# pydicom (3.0.2) maps "ISO 2022 IR 58" to Python's "iso_ir_58", an alias of plain GB 2312, and
# lists it among the encodings whose escape sequences Python handles; Python does not. So pydicom
# writes GB 2312 bytes without the ESC $ ) A designation (a receiver reads them as ASCII/Latin-1)
# and reads a correct value as "\x1b$)A赵^\x1b$)A六": every name of a Chinese modality using
# this character set would be indexed and answered wrongly. The codec below designates GB 2312
# to G1 before each run of Chinese characters, again after each delimiter that resets the code
# elements (PS3.5 6.1.2.5.3: ^ and = in names, CR LF FF TAB, backslash), as in PS3.5 Annex K.2;
# reading drops the designations and decodes with GBK, a superset that forgives senders who use
# characters outside GB 2312.

ISO_2022_IR_58 = "dicom_iso_2022_ir_58"
_DESIGNATE_GB2312 = b"\x1b$)A"
_DESIGNATE_ASCII = b"\x1b(B"
_RESETS = frozenset("^=\\\r\n\f\t")


def _ir58_encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
    encoded = bytearray()
    designated = False
    for index, ch in enumerate(text):
        if ch.isascii():
            encoded += ch.encode("ascii")
            designated = designated and ch not in _RESETS
            continue
        try:
            two_bytes = ch.encode("gb2312")
        except UnicodeEncodeError:
            if errors == "strict":
                raise UnicodeEncodeError(
                    ISO_2022_IR_58, text, index, index + 1, "not in GB 2312"
                ) from None
            encoded += b"?"
            continue
        if not designated:
            encoded += _DESIGNATE_GB2312
            designated = True
        encoded += two_bytes
    return bytes(encoded), len(text)


def _ir58_decode(data: Any, errors: str = "strict") -> tuple[str, int]:
    raw = bytes(data)
    plain = raw.replace(_DESIGNATE_GB2312, b"").replace(_DESIGNATE_ASCII, b"")
    return plain.decode("gbk", errors), len(raw)


def _ir58_search(name: str) -> codecs.CodecInfo | None:
    if name != ISO_2022_IR_58:
        return None
    return codecs.CodecInfo(_ir58_encode, _ir58_decode, name=ISO_2022_IR_58)


def install_iso_2022_ir_58() -> None:
    """Make pydicom encode and decode ``ISO 2022 IR 58`` correctly (process-wide, idempotent):
    every reader of DICOM data in this process (the archive's ingest included) needs it."""
    if pydicom.charset.python_encoding.get("ISO 2022 IR 58") == ISO_2022_IR_58:
        return
    codecs.register(_ir58_search)
    pydicom.charset.python_encoding["ISO 2022 IR 58"] = ISO_2022_IR_58
    pydicom.charset.CODES_TO_ENCODINGS[_DESIGNATE_GB2312] = ISO_2022_IR_58
    pydicom.charset.ENCODINGS_TO_CODES[ISO_2022_IR_58] = _DESIGNATE_GB2312
    pydicom.charset.handled_encodings = (  # type: ignore[assignment]
        *pydicom.charset.handled_encodings,
        ISO_2022_IR_58,
    )


install_iso_2022_ir_58()
