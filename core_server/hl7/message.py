"""Parsing an HL7 v2 message (python-hl7) and reading its fields; building and escaping text.

HL7 separates segments with CR only; senders also use LF or CRLF, normalised here before
python-hl7 parses (it splits on CR).

Times: every TS/DTM we write carries the hospital's offset (:func:`core_server.clock.hl7_ts`,
``20261207141200+0800``); one we read without an offset is the hospital's wall-clock time
(the HIS and we share it, whatever zone the machine runs in), one with an offset is taken as
it says.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import hl7

from core_server import clock
from core_server.hl7.errors import MessageError

DEFAULT_ENCODING_CHARACTERS = "^~\\&"
# MSH-12 versions we read and answer in (each answered with the segments it defines). v2.7
# withdrew ORM/ORR (for OMG/ORG), MSA-3 and ERR-1: not taken until a HIS needs it.
SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6")
# What we answer in when the sender's version is unknown (and what we send of our own).
DEFAULT_VERSION = "2.5"


def version_key(version: str) -> tuple[int, ...]:
    """``"2.3.1"`` -> (2, 3, 1), for comparisons; () for a version that is not one."""
    parts = version.strip().split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else ()


def at_least(version: str, other: str) -> bool:
    """Whether MSH-12 ``version`` is ``other`` or later (an unknown one counts as ours)."""
    return (version_key(version) or version_key(DEFAULT_VERSION)) >= version_key(other)


@dataclass(frozen=True)
class Header:
    """What MSH says about a message: who sent it, what it is, how to answer."""

    field_separator: str
    encoding_characters: str
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_code: str  # ADT, ORM, OMI...
    trigger_event: str  # A01, O01...
    control_id: str
    processing_id: str
    version: str
    charset: str

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.trigger_event}" if self.trigger_event else ""


def parse(text: str) -> hl7.Message:
    """A parsed message; raises MessageError (AR) when it is not an HL7 message at all."""
    text = re.sub(r"\r\n|\n", "\r", text).strip("\r\n\x00 ")
    if not text.startswith("MSH") or len(text) < 8:
        raise MessageError("AR", "100", "the message does not begin with an MSH segment", "MSH")
    try:
        message = hl7.parse(text)
    except Exception as exc:  # python-hl7 raises assorted errors on broken separators
        raise MessageError("AR", "100", f"the message cannot be parsed: {exc}", "MSH") from None
    return message


def tolerant_header(raw: bytes) -> Header | None:
    """MSH read straight from the bytes, for a message whose body cannot be decoded or parsed:
    enough to answer it (MSA-2, MSH-5/6, the version) although the rest is lost. None when the
    bytes do not begin with an MSH segment."""
    line = re.split(rb"[\r\n]", raw.lstrip(b"\x00\r\n "), maxsplit=1)[0]
    if not line.startswith(b"MSH") or len(line) < 8:
        return None
    for codec in ("utf-8", "gb18030", "latin-1"):  # the header is ASCII nearly always
        try:
            text = line.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    separator = text[3]
    fields = text.split(separator)
    chars = fields[1] if len(fields) > 1 and fields[1] else DEFAULT_ENCODING_CHARACTERS
    component = chars[0]
    escape_char = chars[2] if len(chars) > 2 else "\\"

    def msh(number: int, part: int = 1) -> str:
        # MSH-1 is the separator itself: MSH-n is fields[n - 1].
        if number - 1 >= len(fields):
            return ""
        value = fields[number - 1].split(chars[1] if len(chars) > 1 else "~")[0]
        parts = value.split(component)
        found = parts[part - 1] if part <= len(parts) else ""
        return found.split(escape_char)[0].strip()  # escapes cut short rather than misread

    return _header(msh, separator, chars)


def header(message: hl7.Message) -> Header:
    def msh(field: int, component: int = 1) -> str:
        return value(message, "MSH", field, component=component)

    return _header(msh, msh(1) or "|", msh(2) or DEFAULT_ENCODING_CHARACTERS)


def _header(msh: Callable[[int, int], str], separator: str, characters: str) -> Header:
    """The Header from an MSH reader ``msh(field, component)``: the parsed message's or the
    tolerant one's."""
    return Header(
        field_separator=separator,
        encoding_characters=characters,
        sending_application=msh(3, 1),
        sending_facility=msh(4, 1),
        receiving_application=msh(5, 1),
        receiving_facility=msh(6, 1),
        message_code=msh(9, 1).upper(),
        trigger_event=msh(9, 2).upper(),
        control_id=msh(10, 1),
        processing_id=msh(11, 1),
        version=msh(12, 1),
        charset=msh(18, 1),
    )


def value(
    message: hl7.Message | hl7.Segment,
    segment: str,
    field: int,
    repetition: int = 1,
    component: int = 1,
    subcomponent: int = 1,
) -> str:
    """One unescaped value ("" when absent); ``segment`` is ignored for a Segment."""
    try:
        if isinstance(message, hl7.Segment):
            found = message.extract_field(1, field, repetition, component, subcomponent)
        else:
            found = message.extract_field(segment, 1, field, repetition, component, subcomponent)
    except (KeyError, IndexError):
        return ""
    return str(found).strip()


def repetitions(segment: hl7.Segment, field: int) -> int:
    """How many repetitions a field of a segment holds (0 when empty)."""
    try:
        found = segment(field)
    except IndexError:
        return 0
    if isinstance(found, str):
        return 1 if found else 0
    return len(found) if str(found) else 0


def raw_field(segment: hl7.Segment, field: int) -> str:
    """A field as it was sent, components and escapes included ("" when absent)."""
    try:
        return str(segment(field))
    except IndexError:
        return ""


def segments(message: hl7.Message, segment_id: str) -> list[hl7.Segment]:
    try:
        return list(message.segments(segment_id))
    except KeyError:
        return []


def parse_date(text: str, where: str) -> date | None:
    """An HL7 DT/DTM (YYYY[MM[DD...]]) as a date; a malformed one is the sender's error."""
    text = text.strip()
    if not text:
        return None
    digits = re.match(r"\d{8}", text)
    try:
        if digits is None:
            raise ValueError(text)
        return datetime.strptime(digits.group(), "%Y%m%d").date()
    except ValueError:
        raise MessageError("AE", "102", f"{where} is not a date: {text!r}", where) from None


def parse_datetime(text: str, where: str) -> datetime | None:
    """An HL7 DTM (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]); local time when it names no zone."""
    text = text.strip()
    if not text:
        return None
    found = re.fullmatch(r"(\d{8})(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?", text)
    if found is None:
        raise MessageError("AE", "102", f"{where} is not a date/time: {text!r}", where)
    day, hour, minute, second, zone = found.groups()
    try:
        wall = day + (hour or "00") + (minute or "00") + (second or "00")
        stamp = datetime.strptime(wall, "%Y%m%d%H%M%S")
        if zone:
            stamp = datetime.strptime(stamp.strftime("%Y%m%d%H%M%S") + zone, "%Y%m%d%H%M%S%z")
        else:
            stamp = clock.from_local(stamp)  # the HIS and we share the hospital's time zone
    except ValueError:
        raise MessageError("AE", "102", f"{where} is not a date/time: {text!r}", where) from None
    return stamp


def timestamp(at: datetime | None = None) -> str:
    """An HL7 DTM in the hospital's time with its offset (now by default)."""
    return clock.hl7_ts(at)


def new_control_id() -> str:
    """A message control ID unique across processes and restarts (MSH-10, up to 20 chars)."""
    return datetime.now(UTC).strftime("%y%m%d%H%M%S") + secrets.token_hex(4).upper()


def escape(text: str, encoding_characters: str = DEFAULT_ENCODING_CHARACTERS) -> str:
    """Escape the delimiters in a value written into a message (HL7 v2 section 2.7.4)."""
    component, repetition, esc, subcomponent = list((encoding_characters + "^~\\&")[:4])
    out = text.replace(esc, f"{esc}E{esc}")
    for char, code in (("|", "F"), (component, "S"), (subcomponent, "T"), (repetition, "R")):
        out = out.replace(char, f"{esc}{code}{esc}")
    return out.replace("\r", " ").replace("\n", " ")
