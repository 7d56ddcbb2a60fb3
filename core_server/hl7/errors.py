"""What can be wrong with an inbound message, said in HL7's terms (ACK code, ERR segment)."""

from __future__ import annotations

# HL7 table 0357, message error condition codes.
ERROR_CODES = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}


class MessageError(Exception):
    """A message that cannot be applied.

    ``ack_code`` is AR (rejected: malformed, unsupported, the sender must not resend it as it
    is) or AE (application error: it was understood but contradicts what is recorded), or AA
    for a warning (a test message logged but not applied: ERR-4 ``W``);
    ``code`` is from HL7 table 0357; ``location`` is an ERR-2 location such as ``PID^1^3``."""

    def __init__(self, ack_code: str, code: str, text: str, location: str = "") -> None:
        super().__init__(text)
        self.ack_code = ack_code
        self.code = code
        self.text = text
        self.location = location
