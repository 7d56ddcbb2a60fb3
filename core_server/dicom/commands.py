"""The DIMSE command sets of the direct path's query and retrieve loops, written without
pydicom.

A command set is group 0000 in implicit VR little endian (PS3.7 6.3.1, E.1). pynetdicom builds
each one through a pydicom Dataset and its writer, about 0.1 ms apiece; a C-GET of a
300-instance study needs 300 C-STORE requests and 300 pending responses, and every C-FIND
answer comes with a response, so the direct path writes these fixed layouts itself (replies
are walked by ``store_codec.CommandSet``). Tests compare the bytes with pynetdicom's.
"""

from __future__ import annotations

import struct

C_STORE_RQ, C_GET_RSP, C_MOVE_RSP, C_FIND_RSP = 0x0001, 0x8010, 0x8021, 0x8020
_HEADER = struct.Struct("<HHI")


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
