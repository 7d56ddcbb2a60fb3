"""The retrieve loop's hand-written command sets are byte for byte pynetdicom's."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from pynetdicom.dimse_messages import C_FIND_RSP, C_GET_RSP, C_MOVE_RSP, C_STORE_RQ
from pynetdicom.dimse_primitives import C_FIND, C_GET, C_MOVE, C_STORE
from pynetdicom.dsutils import encode

from core_server.dicom import commands

CT = "1.2.840.10008.5.1.4.1.1.2"


def _pynetdicom(encoder: Any, primitive: Any) -> bytes:
    encoder.primitive_to_message(primitive)
    data = encode(encoder.command_set, True, True)
    assert data is not None
    return data


@pytest.mark.parametrize("originator", [None, ("WORKSTATION1", 7), ("PACS", 65535)])
@pytest.mark.parametrize("instance", ["1.2.3.4", "1.2.840.113619.2.55.3.604688119.971.1"])
def test_store_request(originator: tuple[str, int] | None, instance: str) -> None:
    primitive = C_STORE()
    primitive.MessageID = 513
    primitive.AffectedSOPClassUID = CT
    primitive.AffectedSOPInstanceUID = instance
    primitive.Priority = 0x0000
    if originator is not None:
        primitive.MoveOriginatorApplicationEntityTitle = originator[0]
        primitive.MoveOriginatorMessageID = originator[1]
    encoder = C_STORE_RQ()
    encoder.primitive_to_message(primitive)
    encoder.command_set.CommandDataSetType = 0x0001
    expected = encode(encoder.command_set, True, True)
    assert commands.store_request(CT, instance, 513, originator) == expected


@pytest.mark.parametrize("is_move", [False, True])
def test_retrieve_pending(is_move: bool) -> None:
    model = "1.2.840.10008.5.1.4.1.2.2.3" if is_move else "1.2.840.10008.5.1.4.1.2.2.2"
    primitive: Any = C_MOVE() if is_move else C_GET()
    primitive.MessageIDBeingRespondedTo = 42
    primitive.AffectedSOPClassUID = model
    primitive.Status = 0xFF00
    primitive.NumberOfCompletedSuboperations = 297
    primitive.NumberOfWarningSuboperations = 1
    primitive.NumberOfFailedSuboperations = 2
    primitive.NumberOfRemainingSuboperations = 3
    expected = _pynetdicom(C_MOVE_RSP() if is_move else C_GET_RSP(), primitive)
    encoded = commands.retrieve_pending(
        is_move, model, 42, remaining=3, completed=297, failed=2, warning=1
    )
    assert encoded == expected


@pytest.mark.parametrize(
    ("status", "identifier"), [(0xFF00, True), (0x0000, False), (0xFE00, False)]
)
def test_find_response(status: int, identifier: bool) -> None:
    model = "1.2.840.10008.5.1.4.1.2.2.1"
    primitive = C_FIND()
    primitive.MessageIDBeingRespondedTo = 3
    primitive.AffectedSOPClassUID = model
    primitive.Status = status
    if identifier:
        primitive.Identifier = BytesIO(b"\x08\x00\x52\x00\x06\x00\x00\x00STUDY ")
    expected = _pynetdicom(C_FIND_RSP(), primitive)
    assert commands.find_response(model, 3, status, identifier) == expected
