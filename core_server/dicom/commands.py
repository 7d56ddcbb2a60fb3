"""The fixed structures the direct path writes and reads without pydicom: DIMSE command sets
(group 0000, implicit VR little endian, PS3.7 6.3.1 and E.1) and the Part 10 file meta put in
front of a received data set.

pydicom and pynetdicom build each through generic ``Dataset`` machinery, about 0.1 ms apiece:
a quarter of the server's Python CPU per stored object, and per object again in a C-GET,
C-MOVE or C-FIND answer (profiles in the README). The output is byte-for-byte what pydicom
and pynetdicom write (tests compare them); anything unusual (a failure status with an error
comment, a command set that cannot be walked) still goes through pynetdicom.
"""

from __future__ import annotations

import struct

from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

_HEADER = struct.Struct("<HHI")
COMMAND_FIELD, MESSAGE_ID, DATA_SET_TYPE = 0x0100, 0x0110, 0x0800
AFFECTED_SOP_CLASS, AFFECTED_SOP_INSTANCE = 0x0002, 0x1000
C_STORE_RQ, C_STORE_RSP = 0x0001, 0x8001
C_GET_RSP, C_MOVE_RSP, C_FIND_RSP = 0x8010, 0x8021, 0x8020
NO_DATA_SET = 0x0101


class CommandSet:
    """The elements of an encoded command set, by element number (group 0000 only)."""

    def __init__(self, encoded: bytes) -> None:
        self.values: dict[int, bytes] = {}
        offset, end = 0, len(encoded)
        while offset < end:
            if offset + 8 > end:
                raise ValueError("command set truncated")
            group, element, length = _HEADER.unpack_from(encoded, offset)
            offset += 8
            if group != 0x0000 or length == 0xFFFFFFFF or offset + length > end:
                raise ValueError("not a plain group 0000 command set")
            self.values[element] = encoded[offset : offset + length]
            offset += length

    def us(self, element: int) -> int | None:
        value = self.values.get(element)
        return None if value is None or len(value) != 2 else int.from_bytes(value, "little")

    def uid(self, element: int) -> str:
        return self.values.get(element, b"").rstrip(b"\x00 ").decode("ascii")


def _element(element: int, value: bytes) -> bytes:
    return _HEADER.pack(0x0000, element, len(value)) + value


def _uid(value: str) -> bytes:
    raw = value.encode("ascii")
    return raw + b"\x00" if len(raw) % 2 else raw


def _ae(value: str) -> bytes:
    raw = value.encode("ascii")
    return raw + b" " if len(raw) % 2 else raw


def _us(value: int) -> bytes:
    return struct.pack("<H", value)


def _command(*elements: bytes) -> bytes:
    body = b"".join(elements)
    return _element(0x0000, struct.pack("<I", len(body))) + body


def store_request(
    sop_class_uid: str,
    sop_instance_uid: str,
    message_id: int,
    originator: tuple[str, int] | None = None,
) -> bytes:
    """A C-STORE-RQ (medium priority) announcing a data set; ``originator``: the C-MOVE's
    calling AE title and message ID."""
    move: tuple[bytes, ...] = ()
    if originator is not None:
        move = (_element(0x1030, _ae(originator[0])), _element(0x1031, _us(originator[1])))
    return _command(
        _element(0x0002, _uid(sop_class_uid)),
        _element(0x0100, _us(C_STORE_RQ)),
        _element(0x0110, _us(message_id)),
        _element(0x0700, _us(0x0000)),
        _element(0x0800, _us(0x0001)),
        _element(0x1000, _uid(sop_instance_uid)),
        *move,
    )


def retrieve_pending(
    is_move: bool,
    sop_class_uid: str,
    message_id: int,
    *,
    remaining: int,
    completed: int,
    failed: int,
    warning: int,
) -> bytes:
    """A pending (0xFF00) C-GET-RSP or C-MOVE-RSP with its sub-operation counts."""
    return _command(
        _element(0x0002, _uid(sop_class_uid)),
        _element(0x0100, _us(C_MOVE_RSP if is_move else C_GET_RSP)),
        _element(0x0120, _us(message_id)),
        _element(0x0800, _us(0x0101)),
        _element(0x0900, _us(0xFF00)),
        _element(0x1020, _us(remaining)),
        _element(0x1021, _us(completed)),
        _element(0x1022, _us(failed)),
        _element(0x1023, _us(warning)),
    )


def find_response(sop_class_uid: str, message_id: int, status: int, identifier: bool) -> bytes:
    """A C-FIND-RSP with a plain status (no error comment), with or without an identifier."""
    return _command(
        _element(0x0002, _uid(sop_class_uid)),
        _element(0x0100, _us(C_FIND_RSP)),
        _element(0x0120, _us(message_id)),
        _element(0x0800, _us(0x0001 if identifier else 0x0101)),
        _element(0x0900, _us(status)),
    )


def store_success(message_id: int, sop_class_uid: str, sop_instance_uid: str) -> bytes:
    """A C-STORE-RSP with status Success."""
    return _command(
        _element(AFFECTED_SOP_CLASS, _uid(sop_class_uid)),
        _element(COMMAND_FIELD, _us(C_STORE_RSP)),
        _element(0x0120, _us(message_id)),  # Message ID Being Responded To
        _element(DATA_SET_TYPE, _us(NO_DATA_SET)),
        _element(0x0900, _us(0x0000)),  # Status
        _element(AFFECTED_SOP_INSTANCE, _uid(sop_instance_uid)),
    )


def _meta_element(element: int, vr: bytes, value: bytes, pad: bytes) -> bytes:
    if len(value) % 2:
        value += pad
    if vr == b"OB":
        return struct.pack("<HH2sHI", 0x0002, element, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", 0x0002, element, vr, len(value)) + value


def file_meta(
    sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str, source_ae: str = ""
) -> bytes:
    """Preamble, ``DICM`` and the file meta information group of a received object, as
    pynetdicom's ``create_file_meta`` and pydicom's ``write_file_meta_info`` write them, with
    the sender's AE title as Source Application Entity Title (0002,0016) when given: who
    wrote this content, for provenance (PS3.10 7.1)."""
    source = (_meta_element(0x0016, b"AE", source_ae.encode("ascii"), b" "),) if source_ae else ()
    body = b"".join(
        (
            _meta_element(0x0001, b"OB", b"\x00\x01", b"\x00"),
            _meta_element(0x0002, b"UI", sop_class_uid.encode("ascii"), b"\x00"),
            _meta_element(0x0003, b"UI", sop_instance_uid.encode("ascii"), b"\x00"),
            _meta_element(0x0010, b"UI", transfer_syntax_uid.encode("ascii"), b"\x00"),
            _meta_element(0x0012, b"UI", PYNETDICOM_IMPLEMENTATION_UID.encode("ascii"), b"\x00"),
            _meta_element(0x0013, b"SH", PYNETDICOM_IMPLEMENTATION_VERSION.encode("ascii"), b" "),
            *source,
        )
    )
    length = struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(body))
    return b"\x00" * 128 + b"DICM" + length + body
