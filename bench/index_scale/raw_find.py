"""A light C-FIND requestor for timing the server: one association over a plain socket,
answers counted from their command sets and not decoded.

pynetdicom's requestor spends about 2 ms per answer of its own (two threads polling each other,
each answer decoded into a data set): with 90 answers that is most of the measured time on
this machine, whatever the server does. This one reads the PDUs on the calling thread and
parses only the command set (status, data set type), as dcmtk's ``findscu`` without ``-X``.
"""

from __future__ import annotations

import socket
import struct

from pydicom import Dataset
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID
from pynetdicom.dsutils import encode
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import build_context

from core_server.dicom.commands import CommandSet

_PDU = struct.Struct(">BBI")
_PDV = struct.Struct(">IBB")
_IMPLICIT_LITTLE = "1.2.840.10008.1.2"
PENDING = (0xFF00, 0xFF01)
C_FIND_RQ, NO_DATA_SET = 0x0020, 0x0101


class RawFind:
    """An association proposing ``models`` (implicit VR little endian) to ``host:port``."""

    def __init__(self, host: str, port: int, calling: str, called: str, models: list[str]) -> None:
        self.sock = socket.create_connection((host, port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.contexts: dict[str, int] = {}
        self.message_id = 0
        self._associate(calling, called, models)

    def _associate(self, calling: str, called: str, models: list[str]) -> None:
        request = A_ASSOCIATE()
        request.application_context_name = "1.2.840.10008.3.1.1.1"
        request.calling_ae_title, request.called_ae_title = calling, called
        contexts = []
        for number, model in enumerate(models):
            context = build_context(model, [_IMPLICIT_LITTLE])
            context.context_id = 2 * number + 1
            contexts.append(context)
        request.presentation_context_definition_list = contexts
        length = MaximumLengthNotification()
        length.maximum_length_received = 0  # no limit on what the server sends
        implementation = ImplementationClassUIDNotification()
        implementation.implementation_class_uid = PYNETDICOM_IMPLEMENTATION_UID
        request.user_information = [length, implementation]
        pdu = A_ASSOCIATE_RQ()
        pdu.from_primitive(request)
        self.sock.sendall(pdu.encode())
        kind, body = self._pdu()
        if kind != 0x02:
            raise RuntimeError(f"association not accepted (PDU type {kind:#04x})")
        reply = A_ASSOCIATE_AC()
        reply.decode(_PDU.pack(kind, 0, len(body)) + body)  # pynetdicom decodes whole PDUs
        accepted = reply.to_primitive().presentation_context_definition_results_list
        by_id = {c.context_id: str(c.abstract_syntax) for c in contexts}
        for result in accepted:
            if result.result == 0x00:
                self.contexts[by_id[result.context_id]] = int(result.context_id)

    def find(self, identifier: Dataset, model: str) -> int:
        """Send one C-FIND-RQ; the number of pending answers with an identifier."""
        context = self.contexts[model]
        self.message_id = self.message_id % 0xFFFF + 1
        command = _command(
            _element(0x0002, _uid(model)),
            _element(0x0100, struct.pack("<H", C_FIND_RQ)),
            _element(0x0110, struct.pack("<H", self.message_id)),
            _element(0x0700, struct.pack("<H", 0)),
            _element(0x0800, struct.pack("<H", 0x0000)),
        )
        data = encode(identifier, True, True)
        self.sock.sendall(_p_data(context, command, 0x03) + _p_data(context, data, 0x02))
        return self._answers()

    def _answers(self) -> int:
        found = 0
        fragments: list[bytes] = []
        expect_data = False
        while True:
            kind, body = self._pdu()
            if kind != 0x04:
                raise RuntimeError(f"unexpected PDU type {kind:#04x} during C-FIND")
            offset = 0
            while offset < len(body):
                length, _context, control = _PDV.unpack_from(body, offset)
                fragments.append(body[offset + 6 : offset + 4 + length])
                offset += 4 + length
                if not control & 0x02:
                    continue  # more fragments of this command set or data set
                part, fragments = b"".join(fragments), []
                if control & 0x01:  # a command set
                    response = CommandSet(part)
                    code = response.us(0x0900)
                    expect_data = response.us(0x0800) != NO_DATA_SET
                    if code in PENDING:
                        found += 1 if expect_data else 0
                    elif code == 0x0000:
                        return found
                    else:
                        raise RuntimeError(f"C-FIND failed: status {code!r}")
                elif not expect_data:
                    raise RuntimeError("a data set without a command announcing it")

    def _pdu(self) -> tuple[int, bytes]:
        kind, _, length = _PDU.unpack(self._read(6))
        return kind, self._read(length)

    def _read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                raise ConnectionError("the server closed the association")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        try:
            self.sock.sendall(_PDU.pack(0x05, 0, 4) + b"\x00" * 4)  # A-RELEASE-RQ
            self._pdu()  # A-RELEASE-RP
        except OSError:
            pass
        finally:
            self.sock.close()


def _element(element: int, value: bytes) -> bytes:
    return struct.pack("<HHI", 0x0000, element, len(value)) + value


def _uid(value: str) -> bytes:
    raw = value.encode("ascii")
    return raw + b"\x00" if len(raw) % 2 else raw


def _command(*elements: bytes) -> bytes:
    body = b"".join(elements)
    return _element(0x0000, struct.pack("<I", len(body))) + body


def _p_data(context: int, value: bytes, control: int) -> bytes:
    """One P-DATA-TF PDU with one PDV: the whole command set or data set, last fragment."""
    pdv = _PDV.pack(len(value) + 2, context, control) + value
    return _PDU.pack(0x04, 0, len(pdv)) + pdv
