"""The hand-written C-STORE encodings are byte-for-byte what pydicom and pynetdicom write."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID
from pynetdicom.dimse_messages import C_STORE_RQ, C_STORE_RSP
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import create_file_meta, decode, encode

from core_server.dicom import commands

CT = "1.2.840.10008.5.1.4.1.1.2"


@pytest.mark.parametrize("instance", ["1.2.3.4", "1.2.3.45", "1.2.156.112605.1" + ".9" * 20])
def test_store_success_matches_pynetdicom(instance: str) -> None:
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = 513
    primitive.AffectedSOPClassUID = CT
    primitive.AffectedSOPInstanceUID = instance
    primitive.Status = 0x0000
    message = C_STORE_RSP()
    message.primitive_to_message(primitive)
    expected = encode(message.command_set, True, True)
    assert commands.store_success(513, CT, instance) == expected


@pytest.mark.parametrize(
    "syntax", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50"]
)
@pytest.mark.parametrize("instance", ["1.2.3.4", "1.2.3.45"])
def test_file_meta_matches_pydicom(syntax: str, instance: str) -> None:
    written = DicomBytesIO()
    written.write(b"\x00" * 128 + b"DICM")
    meta = create_file_meta(
        sop_class_uid=UID(CT), sop_instance_uid=UID(instance), transfer_syntax=UID(syntax)
    )
    write_file_meta_info(written, meta)
    assert commands.file_meta(CT, instance, syntax) == written.getvalue()


def test_command_set_walk_reads_a_store_request() -> None:
    primitive = C_STORE()
    primitive.MessageID = 7
    primitive.AffectedSOPClassUID = CT
    primitive.AffectedSOPInstanceUID = "1.2.3.45"
    primitive.Priority = 2
    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    encoded = encode(message.command_set, True, True)
    fields = commands.CommandSet(encoded)
    assert fields.us(commands.COMMAND_FIELD) == 0x0001
    assert fields.us(commands.MESSAGE_ID) == 7
    assert fields.uid(commands.AFFECTED_SOP_INSTANCE) == "1.2.3.45"
    assert fields.uid(commands.AFFECTED_SOP_CLASS) == CT
    assert (
        fields.us(commands.DATA_SET_TYPE) == decode(BytesIO(encoded), True, True)[0x00000800].value
    )


@pytest.mark.parametrize(
    "encoded",
    [
        b"\x00\x00\x00\x01\x04",  # cut in an element header
        b"\x00\x00\x00\x01\x10\x00\x00\x00\x01\x00",  # a value longer than the bytes
        b"\x08\x00\x18\x00\x02\x00\x00\x00ab",  # not group 0000
    ],
)
def test_command_set_walk_refuses_what_it_cannot_read(encoded: bytes) -> None:
    with pytest.raises(ValueError):
        commands.CommandSet(encoded)
