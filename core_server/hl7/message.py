"""Parsing an HL7 v2 message (python-hl7) and reading its fields; building and escaping text.

HL7 separates segments with CR only; senders also use LF or CRLF, normalised here before
python-hl7 parses (it splits on CR).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime

import hl7

from core_server.hl7.errors import MessageError

DEFAULT_ENCODING_CHARACTERS = "^~\\&"


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


def header(message: hl7.Message) -> Header:
    def msh(field: int, component: int = 1) -> str:
        return value(message, "MSH", field, component=component)

    return Header(
        field_separator=msh(1) or "|",
        encoding_characters=msh(2) or DEFAULT_ENCODING_CHARACTERS,
        sending_application=msh(3),
        sending_facility=msh(4),
        receiving_application=msh(5),
        receiving_facility=msh(6),
        message_code=msh(9, 1).upper(),
        trigger_event=msh(9, 2).upper(),
        control_id=msh(10),
        processing_id=msh(11),
        version=msh(12),
        charset=msh(18),
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
    found = re.fullmatch(r"(\d{8})(\d{4})?(\d{2})?(?:\.\d+)?([+-]\d{4})?", text)
    if found is None:
        raise MessageError("AE", "102", f"{where} is not a date/time: {text!r}", where)
    day, hour_minute, second, zone = found.groups()
    try:
        stamp = datetime.strptime(day + (hour_minute or "0000") + (second or "00"), "%Y%m%d%H%M%S")
        if zone:
            stamp = datetime.strptime(stamp.strftime("%Y%m%d%H%M%S") + zone, "%Y%m%d%H%M%S%z")
        else:
            stamp = stamp.astimezone()  # the HIS and we share the hospital's time zone
    except ValueError:
        raise MessageError("AE", "102", f"{where} is not a date/time: {text!r}", where) from None
    return stamp


def timestamp(at: datetime | None = None) -> str:
    """An HL7 DTM in local time with its zone offset."""
    return (at or datetime.now(UTC)).astimezone().strftime("%Y%m%d%H%M%S%z")


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
