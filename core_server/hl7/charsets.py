"""Character sets of HL7 v2 messages: MSH-18 names to Python codecs, and decoding raw bytes.

MLLP carries bytes; the character set is named inside the message (MSH-18, HL7 table 0211), so
the header is read from the bytes first (it is ASCII in every character set HL7 allows) and the
whole message decoded afterwards. Chinese HIS send UTF-8 or GB18030/GBK, often without MSH-18:
a message that names none is taken as UTF-8 when it is valid UTF-8, else as GB18030 (a superset
of GBK and GB2312); a Chinese text in GB18030 is practically never valid UTF-8.
"""

from __future__ import annotations

import re

from core_server.hl7.message import at_least

# HL7 table 0211 names (and the usual non-standard spellings), normalised by _key().
_CODECS = {
    "ASCII": "ascii",
    "USASCII": "ascii",
    "UNICODEUTF8": "utf-8",
    "UTF8": "utf-8",
    "UNICODE": "utf-8",
    "GB180302000": "gb18030",
    "GB180302005": "gb18030",
    "GB18030": "gb18030",
    "GBK": "gb18030",
    "GB2312": "gb18030",
    "ISOIR58": "gb18030",
    "CP936": "gb18030",
    "BIG5": "big5",
    "88591": "iso-8859-1",
    "ISOIR100": "iso-8859-1",
    "ISOIR192": "utf-8",
}

# The MSH-18 value we write for each codec we send in (HL7 v2.5 and later: table 0211).
MSH18_NAMES = {"utf-8": "UNICODE UTF-8", "gb18030": "GB 18030-2000", "ascii": "ASCII"}
# Before v2.5 table 0211 names Unicode only as "UNICODE" and has no Chinese character set.
_MSH18_BEFORE_25 = {"utf-8": "UNICODE", "ascii": "ASCII"}


def msh18_name(codec: str, version: str, fallback: str = "") -> str:
    """MSH-18 for ``codec`` in the words of MSH-12 ``version``'s table 0211; ``fallback`` (the
    sender's own value, or the v2.5 name) when that version has no name for it (GB 18030
    before v2.5: the one case where the later name is written, rather than none, which
    would mean ASCII)."""
    if at_least(version, "2.5"):
        return MSH18_NAMES.get(codec, fallback)
    return _MSH18_BEFORE_25.get(codec, fallback or MSH18_NAMES.get(codec, ""))


class CharsetError(ValueError):
    """The bytes cannot be read in the character set the message names (or in any we know)."""


def _key(name: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", name.upper())


def codec_for(charset: str) -> str:
    """The Python codec for an MSH-18 value; raises CharsetError for one we do not know."""
    codec = _CODECS.get(_key(charset))
    if codec is None:
        raise CharsetError(f"unsupported character set {charset!r} in MSH-18")
    return codec


def declared_charset(raw: bytes) -> str:
    """MSH-18 (its first repetition) read straight from the bytes, or "" when absent."""
    if not raw.startswith(b"MSH") or len(raw) < 8:
        return ""
    header = re.split(rb"[\r\n]", raw, maxsplit=1)[0]
    separator = header[3:4]
    fields = header.split(separator)
    if len(fields) < 18:
        return ""
    repetition = fields[1][1:2] or b"~"
    value = fields[17].split(repetition)[0]
    return value.decode("ascii", "replace").strip()


def decode(raw: bytes) -> tuple[str, str]:
    """The message as text and the codec that read it."""
    charset = declared_charset(raw)
    if charset:
        codec = codec_for(charset)
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError as exc:
            raise CharsetError(
                f"the message is not valid {charset} (MSH-18) at byte {exc.start}"
            ) from None
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError:
            continue
    raise CharsetError("the message is neither UTF-8 nor GB18030 and names no MSH-18")
