"""Building the original-mode acknowledgement (ACK with MSA and, on error, ERR).

An order is acknowledged by its own application acknowledgement (HL7 v2.5 4.4.2, 4.4.7):
ORR^O02 answers ORM^O01 and ORI^O24 answers OMI^O23, with MSA and ERR as an ACK's and one ORC
per order of the message, its ORC-1 saying what became of it (NW -> OK accepted or UA unable
to accept; CA -> CR or UC; XO -> XR or UX; other codes echoed) and its placer and filler
numbers (ORC-2, ORC-3) as received."""

from __future__ import annotations

from core_server.hl7.errors import ERROR_CODES, MessageError
from core_server.hl7.message import (
    DEFAULT_ENCODING_CHARACTERS,
    Header,
    escape,
    new_control_id,
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


def build_ack(
    received: Header | None,
    ack_code: str,
    error: MessageError | None = None,
    *,
    application: str,
    charset: str = "",
    orders: list[tuple[str, str, str]] | None = None,
) -> str:
    """The ACK for a message (``received`` is None when not even its MSH could be read).

    The ACK comes from the application the message was addressed to (or ``application``), goes
    back to its sender, echoes its control ID in MSA-2 and says what was wrong in MSA-3 and in
    an ERR segment (v2.5 layout: ERR-2 location, ERR-3 code from table 0357, ERR-4 severity,
    ERR-8 the text for a person; ERR-1 is filled too for v2.3/2.4 receivers). ``orders``: the
    (ORC-1, ORC-2, ORC-3) of each order of an ORM/OMI, as received (their encoding)."""
    chars = received.encoding_characters if received else DEFAULT_ENCODING_CHARACTERS
    component, _repetition, _escape, subcomponent = list((chars + "^~\\&")[:4])

    def esc(text: str) -> str:
        return escape(text, chars)

    version = (received.version if received else "") or "2.5"
    event = received.trigger_event if received else ""
    answer = _ORDER_ANSWERS.get((received.message_code, event)) if received else None
    message_type = "ACK"
    if answer is not None:
        message_type = f"{answer[0]}{component}{answer[1]}"
        if not version.startswith(("2.1", "2.2", "2.3")):
            message_type += f"{component}{answer[2]}"
    elif event:
        message_type += f"{component}{esc(event)}"
        if not version.startswith(("2.1", "2.2", "2.3")):
            message_type += f"{component}ACK"
    msh = [
        "MSH",
        chars,
        esc((received.receiving_application if received else "") or application),
        esc(received.receiving_facility if received else ""),
        esc(received.sending_application if received else ""),
        esc(received.sending_facility if received else ""),
        timestamp(),
        "",
        message_type,
        new_control_id(),
        esc((received.processing_id if received else "") or "P"),
        esc(version),
        "",
        "",
        "",
        "",
        "",
        esc(charset),
    ]
    while msh[-1] == "":
        msh.pop()
    text = error.text if error else ""
    segments = [
        "|".join(msh),
        "|".join(["MSA", ack_code, esc(received.control_id if received else ""), esc(text)]),
    ]
    if error is not None:
        name = ERROR_CODES.get(error.code, "")
        location = error.location.replace("^", component)
        code = f"{error.code}{component}{esc(name)}{component}HL70357"
        where = ([*error.location.split("^"), "", "", ""])[:3]
        err1 = component.join(
            [*where, f"{error.code}{subcomponent}{esc(name)}{subcomponent}HL70357"]
        )
        severity = "W" if ack_code in ("AA", "CA") else "E"  # AA with a warning: not applied
        segments.append("|".join(["ERR", err1, location, code, severity, "", "", "", esc(text)]))
    if answer is not None:
        done = ack_code in ("AA", "CA") and error is None
        for control, placer, filler in orders or []:
            outcomes = _ORDER_CONTROL.get(control.strip().upper())
            reply = (outcomes[0] if done else outcomes[1]) if outcomes else control
            segments.append("|".join(["ORC", reply, placer, filler]).rstrip("|"))
    return "\r".join(segments) + "\r"
