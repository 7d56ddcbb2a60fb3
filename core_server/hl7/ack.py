"""Building the original-mode acknowledgement (ACK with MSA and, on error, ERR), in the
sender's HL7 version with the segments and fields that version defines.

- MSH-9 carries the message structure (``ACK^A04^ACK``) from v2.3.1 on; MSH-12 is the
  sender's version (v2.5 for a version we do not support, which is refused with AR 203);
  MSH-18 names the character set in that version's table 0211 (``UNICODE`` before v2.5,
  ``UNICODE UTF-8`` after), and only when the sender named one.
- Before v2.5 the error is ERR-1 (segment^sequence^field^code&text&HL70357) and MSA-3 (the
  text); from v2.5 on ERR-2 (location), ERR-3 (code, table 0357), ERR-4 (severity) and ERR-8
  (the text for a person), ERR-1 and MSA-3 kept (both "B" in v2.5 and v2.6) for receivers
  that still read them.

An order is acknowledged by its own application acknowledgement (HL7 v2.5 4.4.2, 4.4.7):
ORR^O02 answers ORM^O01 and ORI^O24 answers OMI^O23, with MSA and ERR as an ACK's and one
order group per order of the message: its ORC-1 says what became of it (NW -> OK accepted or
UA unable to accept; CA -> CR or UC; XO -> XR or UX; other codes echoed), ORC-2/ORC-3 are
the placer and filler numbers as received, then the OBR (set ID, order numbers, OBR-4 service)
and, for ORI, each IPC's identifiers, as received: the answer repeats the order as it came.
"""

from __future__ import annotations

from dataclasses import dataclass

import hl7

from core_server.hl7 import charsets
from core_server.hl7.errors import ERROR_CODES, MessageError
from core_server.hl7.message import (
    DEFAULT_ENCODING_CHARACTERS,
    DEFAULT_VERSION,
    SUPPORTED_VERSIONS,
    Header,
    at_least,
    escape,
    new_control_id,
    raw_field,
    timestamp,
)

# (message code, trigger) of an order -> its application acknowledgement (code, trigger,
# structure).
_ORDER_ANSWERS = {
    ("ORM", "O01"): ("ORR", "O02", "ORR_O02"),
    ("OMI", "O23"): ("ORI", "O24", "ORI_O24"),
}
# ORC-1 of an order -> ORC-1 of its answer: (done, refused).
_ORDER_CONTROL = {"NW": ("OK", "UA"), "CA": ("CR", "UC"), "XO": ("XR", "UX")}
_IPC_FIELDS = 5  # accession number, requested procedure ID, study UID, step ID, modality


@dataclass(frozen=True)
class OrderEcho:
    """One order group of an ORM/OMI as its answer repeats it: raw fields, as received."""

    control: str  # ORC-1
    placer: str  # ORC-2 (or OBR-2)
    filler: str  # ORC-3 (or OBR-3)
    obr: tuple[str, ...] = ()  # OBR-1..4 when the group has an OBR
    ipcs: tuple[tuple[str, ...], ...] = ()  # IPC-1..5 of each IPC


def order_echoes(message: hl7.Message) -> list[OrderEcho]:
    """The order groups of a message (ORC, then its OBR and IPCs); a second OBR under one ORC
    is a group of its own with the same ORC, as the mapping reads it."""
    groups: list[dict[str, object]] = []
    for segment in message:
        kind = str(segment[0])
        if kind == "ORC":
            groups.append({"orc": segment, "obr": None, "ipcs": []})
        elif not groups:
            continue
        elif kind == "OBR":
            if groups[-1]["obr"] is not None:
                groups.append({"orc": groups[-1]["orc"], "obr": None, "ipcs": []})
            groups[-1]["obr"] = segment
        elif kind == "IPC":
            ipcs = groups[-1]["ipcs"]
            assert isinstance(ipcs, list)
            ipcs.append(tuple(raw_field(segment, n) for n in range(1, _IPC_FIELDS + 1)))
    echoes = []
    for group in groups:
        orc, obr, ipcs = group["orc"], group["obr"], group["ipcs"]
        assert isinstance(orc, hl7.Segment) and isinstance(ipcs, list)
        placer = raw_field(orc, 2) or (raw_field(obr, 2) if isinstance(obr, hl7.Segment) else "")
        filler = raw_field(orc, 3) or (raw_field(obr, 3) if isinstance(obr, hl7.Segment) else "")
        fields: tuple[str, ...] = ()
        if isinstance(obr, hl7.Segment):
            fields = (raw_field(obr, 1) or "1", placer, filler, raw_field(obr, 4))
        echoes.append(OrderEcho(raw_field(orc, 1), placer, filler, fields, tuple(ipcs)))
    return echoes


def answer_version(received: Header | None) -> str:
    """The version we answer in: the sender's when we support it, else ours."""
    version = received.version.split("^")[0].strip() if received else ""
    return version if version in SUPPORTED_VERSIONS else DEFAULT_VERSION


def build_ack(
    received: Header | None,
    ack_code: str,
    error: MessageError | None = None,
    *,
    application: str,
    charset: str = "",
    codec: str = "",
    orders: list[OrderEcho] | None = None,
) -> str:
    """The ACK for a message (``received`` is None when not even its MSH could be read).

    The ACK comes from the application the message was addressed to (or ``application``), goes
    back to its sender and echoes its control ID in MSA-2. ``charset`` is the sender's MSH-18,
    ``codec`` the one the answer is encoded in (default: the one ``charset`` names)."""
    chars = received.encoding_characters if received else DEFAULT_ENCODING_CHARACTERS
    component = (chars + DEFAULT_ENCODING_CHARACTERS)[0]
    version = answer_version(received)
    answer = (
        _ORDER_ANSWERS.get((received.message_code, received.trigger_event)) if received else None
    )

    def esc(text: str) -> str:
        return escape(text, chars)

    msh = [
        "MSH",
        chars,
        esc((received.receiving_application if received else "") or application),
        esc(received.receiving_facility if received else ""),
        esc(received.sending_application if received else ""),
        esc(received.sending_facility if received else ""),
        timestamp(),
        "",
        _message_type(received, answer, version, component),
        new_control_id(),
        esc((received.processing_id if received else "") or "P"),
        version,
        "",
        "",
        "",
        "",
        "",
        esc(_charset_name(charset, codec, version)),
    ]
    while msh[-1] == "":
        msh.pop()
    text = error.text if error else ""
    segments = [
        "|".join(msh),
        "|".join(["MSA", ack_code, esc(received.control_id if received else ""), esc(text)]),
    ]
    if error is not None:
        segments.append(_err(error, ack_code, version, chars))
    if answer is not None:
        done = ack_code in ("AA", "CA") and error is None
        for echo in orders or []:
            segments += _order_group(echo, done, answer[0] == "ORI")
    return "\r".join(segments) + "\r"


def _message_type(
    received: Header | None, answer: tuple[str, str, str] | None, version: str, component: str
) -> str:
    """MSH-9: ``ACK^A04^ACK``, ``ORR^O02^ORR_O02``; no structure before v2.3.1 (MSG.3)."""
    structured = at_least(version, "2.3.1")
    if answer is not None:
        parts = [answer[0], answer[1], answer[2] if structured else ""]
    elif received is not None and received.trigger_event:
        event = escape(received.trigger_event, received.encoding_characters)
        parts = ["ACK", event, "ACK" if structured else ""]
    else:
        parts = ["ACK"]
    return component.join(parts).rstrip(component)


def _charset_name(charset: str, codec: str, version: str) -> str:
    """MSH-18 of the answer: only when the sender named one, in its version's words."""
    if not charset:
        return ""
    if not codec:
        try:
            codec = charsets.codec_for(charset)
        except charsets.CharsetError:
            return ""  # we answer in ASCII (nothing else was readable): MSH-18 empty says so
    return charsets.msh18_name(codec, version, fallback=charset)


def _err(error: MessageError, ack_code: str, version: str, chars: str) -> str:
    component, _repetition, _escape, subcomponent = list((chars + "^~\\&")[:4])
    name = escape(ERROR_CODES.get(error.code, ""), chars)
    where = [part for part in error.location.split("^") if part][:3]
    err1 = component.join(
        [*[*where, "", "", ""][:3], subcomponent.join([error.code, name, "HL70357"])]
    )
    if not at_least(version, "2.5"):
        return f"ERR|{err1}"  # v2.3.1/v2.4: ERR-1 is the only field
    location = component.join(where) if len(where) >= 2 else ""  # ERL needs segment^sequence
    code = component.join([error.code, name, "HL70357"])
    severity = "W" if ack_code in ("AA", "CA") else "E"  # AA with a warning: not applied
    return "|".join(["ERR", err1, location, code, severity, "", "", "", escape(error.text, chars)])


def _order_group(echo: OrderEcho, done: bool, ori: bool) -> list[str]:
    outcomes = _ORDER_CONTROL.get(echo.control.strip().upper())
    reply = (outcomes[0] if done else outcomes[1]) if outcomes else echo.control
    out = ["|".join(["ORC", reply, echo.placer, echo.filler]).rstrip("|")]
    if echo.obr:
        out.append("|".join(["OBR", *echo.obr]).rstrip("|"))
    if ori:
        out += ["|".join(["IPC", *ipc]).rstrip("|") for ipc in echo.ipcs]
    return out
