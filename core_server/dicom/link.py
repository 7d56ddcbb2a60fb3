"""One association's socket on the direct path: PDUs in and out, DIMSE messages assembled.

Command sets are walked by hand (:mod:`core_server.dicom.commands`) or decoded by pynetdicom;
data set fragments (PS3.8 9.3.5) are cut from the received PDUs by memoryview and written
without copies, straight into the object's incoming file for a C-STORE. A C-STORE whose file
cannot be written (a full disk) is still read to its end, so the association goes on and the
request is answered with a failure status instead of a dropped connection.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import select
import socket
import ssl
import struct
from collections.abc import Callable, Iterator
from io import BytesIO

from pydicom import Dataset
from pydicom.uid import UID
from pynetdicom.dimse_messages import DIMSEMessage
from pynetdicom.dsutils import decode
from pynetdicom.pdu import A_ABORT_RQ, P_DATA_TF
from pynetdicom.presentation import PresentationContext

from core_server.archive import Incoming
from core_server.dicom import commands
from core_server.dicom.commands import CommandSet

log = logging.getLogger(__name__)
RELEASE_RQ = b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00"
RELEASE_RP = b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"
C_STORE_RQ, C_ECHO_RQ, C_FIND_RQ, C_GET_RQ, C_MOVE_RQ = 0x0001, 0x0030, 0x0020, 0x0010, 0x0021
C_CANCEL_RQ, C_STORE_RSP = 0x0FFF, 0x8001
_IOV_MAX = 512  # buffers per sendmsg call, under Linux's IOV_MAX of 1024
_UNLIMITED = 1 << 26  # "no maximum" (--dicom-max-pdu 0) still refuses a PDU over 64 MiB
# A-ABORT sources (PS3.8 9.3.8): service user (AA-1), service provider (AA-8) with a reason.
ABORT_BY_USER, ABORT_BY_PROVIDER = 0x00, 0x02
UNRECOGNIZED_PDU, UNEXPECTED_PDU, INVALID_PARAMETER = 0x01, 0x02, 0x06


class Message:
    """One DIMSE message as received: its command set, and its data set in memory or, for a
    C-STORE request, in its incoming file. ``failure``: the file could not be written (the
    rest of the message was read and dropped)."""

    def __init__(self, encoded: bytes, context_id: int) -> None:
        self.encoded = encoded
        self.context_id = context_id
        self.data = BytesIO()
        self.incoming: Incoming | None = None
        self.failure: OSError | None = None
        # Walked by hand (cheap); pydicom decodes the command set only when asked for it.
        try:
            self.fields: CommandSet | None = CommandSet(encoded)
        except ValueError:
            self.fields = None

    @functools.cached_property
    def command(self) -> Dataset:
        return decode(BytesIO(self.encoded), True, True)

    @property
    def field(self) -> int:
        found = self.fields.us(commands.COMMAND_FIELD) if self.fields else None
        return int(self.command.CommandField) if found is None else found

    @property
    def message_id(self) -> int:
        found = self.fields.us(commands.MESSAGE_ID) if self.fields else None
        return int(self.command.MessageID) if found is None else found

    @property
    def sop_class_uid(self) -> str:
        if self.fields is not None:
            return self.fields.uid(commands.AFFECTED_SOP_CLASS)
        return str(self.command.AffectedSOPClassUID)

    @property
    def sop_instance_uid(self) -> str:
        if self.fields is not None:
            return self.fields.uid(commands.AFFECTED_SOP_INSTANCE)
        return str(self.command.AffectedSOPInstanceUID)

    @property
    def has_data_set(self) -> bool:
        found = self.fields.us(commands.DATA_SET_TYPE) if self.fields else None
        if found is None:
            found = int(self.command.CommandDataSetType)
        return found != commands.NO_DATA_SET

    def identifier(self, syntax: UID) -> Dataset:
        self.data.seek(0)
        return decode(self.data, syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated)

    def write(self, fragment: memoryview) -> None:
        if self.incoming is not None:
            try:
                self.incoming.write(fragment)
            except OSError as exc:  # a full disk: drop the rest, answer with a status
                self.failed(exc)
        elif self.failure is None:
            self.data.write(fragment)

    def failed(self, exc: OSError) -> None:
        log.error("cannot receive %s: %s", self.sop_instance_uid, exc)
        self.failure = exc
        self.discard()

    def discard(self) -> None:
        """Remove the incoming file (a message cut short, or not taken)."""
        if self.incoming is not None:
            self.incoming.discard()
            self.incoming = None


class Link:
    """One association's socket: PDUs in and out."""

    def __init__(
        self,
        sock: socket.socket,
        max_pdu: int,
        incoming: Callable[[], Incoming] | None = None,
        source_ae: str = "",
    ) -> None:
        self.sock = sock
        self.max_pdu = max_pdu  # what we accept
        self.peer_max_pdu = 16382  # what the peer accepts; from its association PDU
        self.accepted: dict[int, PresentationContext] = {}
        self.incoming = incoming  # C-STORE data sets are written to a new incoming file
        self.source_ae = source_ae  # the calling AE, Source AE Title of received objects
        self._spare: Incoming | None = None  # the next C-STORE's file, made ahead

    def read_pdu(self) -> tuple[int, bytes | bytearray]:
        """The next PDU, whole. A P-DATA-TF is received into one buffer and returned as it is
        (its fragments are cut from it by memoryview): copying half a megabyte twice per
        object cost more than the rest of the receive loop."""
        header = self._read(6)
        length = struct.unpack(">I", header[2:6])[0]
        if length > max(self.max_pdu or _UNLIMITED, 1 << 16) + 1024:
            self.abort(ABORT_BY_PROVIDER, INVALID_PARAMETER)
            raise ConnectionAbortedError(f"PDU of {length} bytes exceeds our maximum")
        pdu = bytearray(6 + length)
        pdu[:6] = header
        self._receive_into(memoryview(pdu)[6:])
        return header[0], pdu if header[0] == 0x04 else bytes(pdu)

    def _pdvs(self) -> Iterator[tuple[int, int, memoryview]]:
        """(presentation context, control header, fragment) of each PDV of the P-DATA-TF PDUs
        that come, until the peer releases (answered) or aborts."""
        while True:
            pdu_type, body = self.read_pdu()
            if pdu_type == 0x05:
                self.sock.sendall(RELEASE_RP)
                return
            if pdu_type != 0x04:
                if pdu_type != 0x07:  # PS3.8 AA-8: an unexpected or unknown PDU
                    known = 0x01 <= pdu_type <= 0x07
                    self.abort(ABORT_BY_PROVIDER, UNEXPECTED_PDU if known else UNRECOGNIZED_PDU)
                return
            view = memoryview(body)
            offset = 6
            while offset < len(view):
                length = struct.unpack_from(">I", view, offset)[0]
                yield view[offset + 4], view[offset + 5], view[offset + 6 : offset + 4 + length]
                offset += 4 + length

    def next_message(self) -> Message | None:
        """The next complete DIMSE message; None once the peer released or aborted (a message
        cut short leaves no file behind)."""
        command = bytearray()
        message: Message | None = None
        try:
            for context_id, control, fragment in self._pdvs():
                if control & 1:  # command set
                    command += fragment
                    if control & 2:
                        message = self._started(bytes(command), context_id)
                        if not message.has_data_set:
                            return message
                elif message is not None:
                    message.write(fragment)
                    if control & 2:
                        if message.incoming is not None:
                            message.incoming.close()
                        return message
                else:
                    self.abort(ABORT_BY_PROVIDER, UNEXPECTED_PDU)
                    raise ConnectionAbortedError("a data set arrived before its command")
        except BaseException:
            if message is not None:
                message.discard()
            raise
        if message is not None:  # released or aborted in the middle of it
            message.discard()
        return None

    def _started(self, encoded: bytes, context_id: int) -> Message:
        message = Message(encoded, context_id)
        if message.field == C_STORE_RQ and self.incoming is not None:
            try:
                message.incoming = self._spare or self.incoming()
                self._spare = None
                message.incoming.write(
                    commands.file_meta(
                        message.sop_class_uid,
                        message.sop_instance_uid,
                        str(self.accepted[context_id].transfer_syntax[0]),
                        self.source_ae,
                    )
                )
            except OSError as exc:
                message.failed(exc)
        return message

    def prepare(self) -> None:
        """Make the next C-STORE's incoming file now, while the peer prepares its next message:
        creating a file took 0.1-0.6 ms of kernel time on the ext4 disks measured, time the
        peer would otherwise wait for our answer."""
        if self.incoming is not None and self._spare is None:
            with contextlib.suppress(OSError):  # no room: the next C-STORE says so
                self._spare = self.incoming()

    def drop_spare(self) -> None:
        if self._spare is not None:
            self._spare.discard()
            self._spare = None

    def send_encoded(self, context_id: int, command: bytes, data: bytes | memoryview) -> None:
        """A message whose command set and data set are encoded already: its PDUs go out
        together, a few system calls per message rather than one per PDU."""
        view = memoryview(data)
        step = self.peer_max_pdu - 6 if self.peer_max_pdu else len(view)
        parts = self._pdv(context_id, 0x03, memoryview(command))
        for start in range(0, len(view), step):
            last = start + step >= len(view)
            parts += self._pdv(context_id, 0x02 if last else 0x00, view[start : start + step])
        self._sendmsg(parts)

    def send_command(self, context_id: int, command: bytes) -> None:
        """A message without a data set, its command set encoded already."""
        self._sendmsg(self._pdv(context_id, 0x03, memoryview(command)))

    @staticmethod
    def _pdv(context_id: int, control: int, fragment: memoryview) -> list[memoryview]:
        """One P-DATA-TF PDU holding one PDV, as buffers to send."""
        head = struct.pack(
            ">BBIIBB", 0x04, 0, len(fragment) + 6, len(fragment) + 2, context_id, control
        )
        return [memoryview(head), fragment]

    def _sendmsg(self, parts: list[memoryview]) -> None:
        start = 0
        while start < len(parts):
            sent = self.sock.sendmsg(parts[start : start + _IOV_MAX])
            while start < len(parts) and sent >= len(parts[start]):
                sent -= len(parts[start])
                start += 1
            if start < len(parts) and sent:
                parts[start] = parts[start][sent:]

    def next_response(self) -> tuple[int, int | None] | None:
        """The command field and status of the next message, read without pydicom (what a
        retrieve waits for: a C-STORE-RSP, or a C-CANCEL); None once the peer released or
        aborted. A data set that came with the message is read and dropped."""
        command = bytearray()
        fields: CommandSet | None = None
        for _context_id, control, fragment in self._pdvs():
            if control & 1:
                command += fragment
                if control & 2:
                    try:
                        fields = CommandSet(bytes(command))
                    except ValueError:
                        self.abort(ABORT_BY_PROVIDER, INVALID_PARAMETER)
                        raise ConnectionAbortedError("malformed DIMSE command set") from None
                    if fields.us(commands.DATA_SET_TYPE) == commands.NO_DATA_SET:
                        return _response(fields)
            elif fields is None:
                self.abort(ABORT_BY_PROVIDER, UNEXPECTED_PDU)
                raise ConnectionAbortedError("a data set arrived before its command")
            elif control & 2:
                return _response(fields)
        return None

    def send(self, encoder: DIMSEMessage, primitive: object, context_id: int) -> None:
        encoder.primitive_to_message(primitive)
        for p_data in encoder.encode_msg(context_id, self.peer_max_pdu):
            pdu = P_DATA_TF()
            pdu.from_primitive(p_data)
            self.sock.sendall(pdu.encode())

    def readable(self) -> bool:
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True  # decrypted bytes waiting that select cannot see
        return bool(select.select([self.sock], [], [], 0)[0])

    def abort(self, source: int = ABORT_BY_PROVIDER, reason: int = 0x00) -> None:
        send_abort(self.sock, source, reason)

    def _read(self, size: int) -> bytes:
        buffer = bytearray(size)
        self._receive_into(memoryview(buffer))
        return bytes(buffer)

    def _receive_into(self, view: memoryview) -> None:
        while view:
            try:  # MSG_WAITALL: a whole PDU in one system call, not one per arriving segment
                got = self.sock.recv_into(view, 0, socket.MSG_WAITALL)
            except BlockingIOError:  # SO_RCVTIMEO ran out (see kernel_timeouts)
                raise TimeoutError("the peer sent nothing within the network timeout") from None
            if not got:
                raise ConnectionResetError("peer closed the connection")
            view = view[got:]


def send_abort(sock: socket.socket, source: int, reason: int) -> None:
    """An A-ABORT PDU (the reason counts only from the service provider)."""
    abort = A_ABORT_RQ()
    abort.source = source
    abort.reason_diagnostic = reason if source == ABORT_BY_PROVIDER else 0x00
    with contextlib.suppress(OSError):
        sock.sendall(abort.encode())


def kernel_timeouts(sock: socket.socket, timeout: float) -> None:
    """A blocking socket whose reads and writes time out in the kernel (SO_RCVTIMEO,
    SO_SNDTIMEO; a timeout shows as BlockingIOError). Python's own socket timeout polls before
    every read and write: twice the system calls, and each one hands the GIL to another
    association's thread and back, which with four storing associations cost more CPU than the
    work itself."""
    if isinstance(sock, ssl.SSLSocket):  # ssl retries a kernel timeout for ever: its own
        sock.settimeout(max(timeout, 0.001))
        return
    sock.settimeout(None)
    timeout = max(timeout, 0.001)  # 0 would mean "never"
    seconds = int(timeout)
    interval = struct.pack("@ll", seconds, int((timeout - seconds) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, interval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, interval)


def _response(fields: CommandSet) -> tuple[int, int | None]:
    field = fields.us(commands.COMMAND_FIELD)
    if field is None:
        raise ConnectionAbortedError("a DIMSE message without a command field")
    return field, fields.us(0x0900)  # Status
