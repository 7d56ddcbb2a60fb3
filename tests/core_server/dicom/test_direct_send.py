"""The direct path's retrieve send helpers: where a stored file's data set starts, and
messages cut into PDUs and sent with batched ``sendmsg`` calls."""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

from pynetdicom.dsutils import split_dataset

from core_server.dicom import commands, link, sending
from tests.dicom_data import make_ct, write


def test_data_set_offset_is_where_pydicom_finds_it(tmp_path: Path) -> None:
    path = write(make_ct(), tmp_path)
    data = path.read_bytes()
    assert sending.data_set_offset(data) == split_dataset(path)[1]
    assert sending.data_set_offset(b"\x00" * 200) is None  # no DICM: pydicom decides


def test_message_in_pdus_reassembles(tmp_path: Path) -> None:
    """600 kB over 1 kB PDUs: more buffers than one sendmsg takes, all in order."""
    ours, theirs = socket.socketpair()
    channel = link.Link(ours, 1 << 16)
    channel.peer_max_pdu = 1024
    payload = bytes(range(256)) * 2400
    command = commands.store_request("1.2.840.10008.5.1.4.1.1.2", "1.2.3", 9)
    received = bytearray()

    def read_all() -> None:
        while chunk := theirs.recv(1 << 16):
            received.extend(chunk)

    reader = threading.Thread(target=read_all)
    reader.start()
    channel.send_encoded(5, command, payload)
    ours.close()
    reader.join(10)
    theirs.close()
    commands_seen, data, controls = bytearray(), bytearray(), []
    offset = 0
    while offset < len(received):
        pdu_type, length = received[offset], struct.unpack_from(">I", received, offset + 2)[0]
        assert pdu_type == 0x04 and length <= 1024
        pdv_length, context_id, control = struct.unpack_from(">IBB", received, offset + 6)
        assert context_id == 5 and pdv_length == length - 4
        fragment = received[offset + 12 : offset + 6 + length]
        (commands_seen if control & 1 else data).extend(fragment)
        controls.append(control)
        offset += 6 + length
    assert bytes(commands_seen) == command and bytes(data) == payload
    assert controls[0] == 0x03 and controls[-1] == 0x02
    assert all(c == 0x00 for c in controls[1:-1])
