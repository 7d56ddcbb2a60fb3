"""A direct path for associations that store, echo, query or retrieve (C-FIND, C-GET, C-MOVE):
modalities sending images, workstations and viewers finding and fetching them.

pynetdicom serves each association with two threads that poll each other and their socket,
sleeping a millisecond whenever a turn finds nothing to do, and spends about 2 ms of CPU and
3.4 ms of wall time per 512 kB C-STORE before any handler runs (profile in the README). For an
association whose every presentation context is a storage SOP class or Verification, this
module reads the socket itself on one blocking thread: PDUs and DIMSE messages are still
decoded and encoded by pynetdicom's own classes (the data set fragments go straight to a file
in the storage area's incoming folder, as in pynetdicom's chunked mode), only the threads and
their polling are replaced. C-GET and C-MOVE send the stored files' bytes as they are, without
decoding and re-encoding them, whenever the receiver accepted the stored transfer syntax
(C-MOVE over an association this module opens to the destination). Anything else (storage
commitment, user identity, extended negotiation) is left to pynetdicom.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import select
import socket
import struct
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pydicom.uid import UID
from pynetdicom import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
from pynetdicom.dimse_messages import (
    C_ECHO_RSP,
    C_FIND_RSP,
    C_GET_RSP,
    C_MOVE_RSP,
    C_STORE_RSP,
    DIMSEMessage,
)
from pynetdicom.dimse_primitives import C_ECHO, C_FIND, C_GET, C_MOVE, C_STORE
from pynetdicom.dsutils import decode, encode, split_dataset
from pynetdicom.pdu import (
    A_ABORT_RQ,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    P_DATA_TF,
)
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    SCP_SCU_RoleSelectionNegotiation,
)
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from core_server.archive.storage import StorageArea, start_writeback
from core_server.dicom import answers, commands
from core_server.dicom.commands import CommandSet

log = logging.getLogger(__name__)

STORAGE_CLASSES = frozenset(str(c.abstract_syntax) for c in AllStoragePresentationContexts)
# Query/retrieve information models (Patient and Study Root; FIND, GET, MOVE).
RETRIEVE_MODELS = frozenset(
    str(m)
    for m in (
        PatientRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelFind,
        PatientRootQueryRetrieveInformationModelGet,
        StudyRootQueryRetrieveInformationModelGet,
        PatientRootQueryRetrieveInformationModelMove,
        StudyRootQueryRetrieveInformationModelMove,
    )
)
SERVED = STORAGE_CLASSES | RETRIEVE_MODELS | {str(Verification)}
_SYNTAXES = frozenset(str(s) for s in ALL_TRANSFER_SYNTAXES)
# User information items this path understands; any other (user identity, extended
# negotiation...) sends the association to pynetdicom.
_PLAIN_ITEMS = (
    MaximumLengthNotification,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    SCP_SCU_RoleSelectionNegotiation,
)
_APPLICATION_CONTEXT = UID("1.2.840.10008.3.1.1.1")
_RELEASE_RQ = b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00"
_RELEASE_RP = b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"
_C_STORE_RQ, _C_ECHO_RQ, _C_FIND_RQ, _C_GET_RQ, _C_MOVE_RQ = 0x0001, 0x0030, 0x0020, 0x0010, 0x0021
_C_CANCEL_RQ, _C_STORE_RSP = 0x0FFF, 0x8001
_UNCOMPRESSED = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
# Explicit VRs with a 4-byte length (PS3.5 7.1.2), as file meta elements may use them.
_LONG_VRS = frozenset((b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"))
_IOV_MAX = 512  # buffers per sendmsg call, under Linux's IOV_MAX of 1024
SUCCESS, PENDING, CANCEL, WARNING = 0x0000, 0xFF00, 0xFE00, 0xB000
NOT_AUTHORIZED, DESTINATION_UNKNOWN, NONE_DONE = 0x0124, 0xA801, 0xA702

# calling AE title -> may it associate at all? (strict mode)
Admit = Callable[[str], bool]
# (calling AE title, remote address, incoming file path) -> status (int or status Dataset)
Store = Callable[[str, str, Any], "int | Dataset"]
# calling AE title -> status of a C-ECHO
Echo = Callable[[str], int]
# (calling AE title, query keys) -> the files to send, or a refusal status
Retrieve = Callable[[str, dict[str, str]], "list[Any] | int"]
# (calling AE title, move destination AE title) -> (host, port), or a refusal status
Destination = Callable[[str, str], "tuple[str, int] | int"]
# (calling AE title, identifier, "cancelled?") -> (status, answer) pairs, as pynetdicom's
# C-FIND handlers yield them
Find = Callable[[str, Dataset, Callable[[], bool]], Iterator[tuple[Any, "answers.Answer | None"]]]


def peek_request(sock: socket.socket, timeout: float) -> A_ASSOCIATE | None:
    """The A-ASSOCIATE-RQ waiting on ``sock``, read without consuming it (None: not one)."""
    sock.settimeout(timeout)
    try:
        header = sock.recv(6, socket.MSG_PEEK | socket.MSG_WAITALL)
        if len(header) < 6 or header[0] != 0x01:
            return None
        length = struct.unpack(">I", header[2:6])[0]
        if length > 1 << 20:
            return None
        data = sock.recv(6 + length, socket.MSG_PEEK | socket.MSG_WAITALL)
        if len(data) < 6 + length:
            return None
        pdu = A_ASSOCIATE_RQ()
        pdu.decode(data)
        return pdu.to_primitive()
    except (OSError, ValueError, struct.error):
        return None
    except Exception:  # a malformed request: pynetdicom will answer it properly
        log.debug("association request not decodable on the direct path", exc_info=True)
        return None


def serves(request: A_ASSOCIATE, elsewhere: frozenset[str]) -> bool:
    """Does this request ask for nothing but storage, verification and retrieval (and SOP
    classes no one here serves, which are rejected), with nothing else negotiated?
    ``elsewhere``: the abstract syntaxes pynetdicom serves and this path does not."""
    contexts = request.presentation_context_definition_list or []
    items = request.user_information or []
    syntaxes = {str(c.abstract_syntax) for c in contexts}
    return (
        bool(syntaxes & SERVED)
        and not syntaxes & elsewhere
        and all(isinstance(item, _PLAIN_ITEMS) for item in items)
    )


class _Message:
    """One DIMSE message as received: its command set, and its data set in memory or, for a
    C-STORE request, in a file in the incoming folder."""

    def __init__(self, encoded: bytes, context_id: int) -> None:
        self.encoded = encoded
        self.context_id = context_id
        self.data = BytesIO()
        self.path: Path | None = None
        self.fd: int | None = None  # C-STORE: the incoming file, written with os.write
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

    def discard(self, taken: bool = False) -> None:
        """Close the incoming file and remove it, unless the archive took it (and so moved it
        into place or removed it itself)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.path is not None and not taken:
            self.path.unlink(missing_ok=True)


class _Link:
    """One association's socket: PDUs in and out. Command sets are encoded and decoded by
    pynetdicom; data set fragments (PS3.8 9.3.5) are cut from and written to buffers without
    copies, straight into a file for a C-STORE."""

    def __init__(
        self, sock: socket.socket, max_pdu: int, storage: StorageArea | None = None
    ) -> None:
        self.sock = sock
        self.max_pdu = max_pdu  # what we accept
        self.peer_max_pdu = 16382  # what the peer accepts; from its association PDU
        self.accepted: dict[int, PresentationContext] = {}
        self.storage = storage  # C-STORE data sets are written to its incoming folder
        self._spare: tuple[Path, int] | None = None  # the next C-STORE's file, made ahead

    def read_pdu(self) -> tuple[int, bytes | bytearray]:
        """The next PDU, whole. A P-DATA-TF is received into one buffer and returned as it is
        (its fragments are cut from it by memoryview): copying half a megabyte twice per
        object cost more than the rest of the receive loop."""
        header = self._read(6)
        length = struct.unpack(">I", header[2:6])[0]
        if length > max(self.max_pdu, 1 << 16) + 1024 and header[0] == 0x04:
            self.abort()
            raise ConnectionAbortedError(f"P-DATA PDU of {length} bytes exceeds our maximum")
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
                self.sock.sendall(_RELEASE_RP)
                return
            if pdu_type != 0x04:
                if pdu_type != 0x07:
                    self.abort()
                return
            view = memoryview(body)
            offset = 6
            while offset < len(view):
                length = struct.unpack_from(">I", view, offset)[0]
                yield view[offset + 4], view[offset + 5], view[offset + 6 : offset + 4 + length]
                offset += 4 + length

    def next_message(self) -> _Message | None:
        """The next complete DIMSE message; None once the peer released or aborted (a message
        cut short leaves no file behind)."""
        command = bytearray()
        message: _Message | None = None
        try:
            for context_id, control, fragment in self._pdvs():
                if control & 1:  # command set
                    command += fragment
                    if control & 2:
                        message = self._started(bytes(command), context_id)
                        if not message.has_data_set:
                            return message
                elif message is not None:
                    if message.fd is None:
                        message.data.write(fragment)
                    else:
                        _write_all(message.fd, fragment)
                    if control & 2:
                        if message.fd is not None:
                            start_writeback(message.fd)
                            os.close(message.fd)
                            message.fd = None
                        return message
                else:
                    self.abort()
                    raise ConnectionAbortedError("a data set arrived before its command")
        except BaseException:
            if message is not None:
                message.discard()
            raise
        if message is not None:  # released or aborted in the middle of it
            message.discard()
        return None

    def _started(self, encoded: bytes, context_id: int) -> _Message:
        message = _Message(encoded, context_id)
        if message.field == _C_STORE_RQ and self.storage is not None:
            message.path, message.fd = self._spare or self._new_file(self.storage)
            self._spare = None
            _write_all(
                message.fd,
                commands.file_meta(
                    message.sop_class_uid,
                    message.sop_instance_uid,
                    str(self.accepted[context_id].transfer_syntax[0]),
                ),
            )
        return message

    def prepare(self) -> None:
        """Make the next C-STORE's incoming file now, while the peer prepares its next message:
        creating a file took 0.1-0.6 ms of kernel time on the ext4 disks measured, time the
        peer would otherwise wait for our answer."""
        if self.storage is not None and self._spare is None:
            self._spare = self._new_file(self.storage)

    def drop_spare(self) -> None:
        if self._spare is not None:
            path, fd = self._spare
            self._spare = None
            os.close(fd)
            path.unlink(missing_ok=True)

    @staticmethod
    def _new_file(storage: StorageArea) -> tuple[Path, int]:
        # os.open and os.write rather than a Python file: fewer system calls (each one lets
        # another association's thread take the GIL), and nothing to flush.
        path = storage.new_incoming()
        return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)

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
                        self.abort()
                        raise ConnectionAbortedError("malformed DIMSE command set") from None
                    if fields.us(commands.DATA_SET_TYPE) == commands.NO_DATA_SET:
                        return _response(fields)
            elif fields is None:
                self.abort()
                raise ConnectionAbortedError("a data set arrived before its command")
            elif control & 2:
                return _response(fields)
        return None

    def send(self, encoder: DIMSEMessage, primitive: Any, context_id: int) -> None:
        encoder.primitive_to_message(primitive)
        for p_data in encoder.encode_msg(context_id, self.peer_max_pdu):
            pdu = P_DATA_TF()
            pdu.from_primitive(p_data)
            self.sock.sendall(pdu.encode())

    def readable(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def abort(self) -> None:
        abort = A_ABORT_RQ()
        abort.source, abort.reason_diagnostic = 0x02, 0x00
        with contextlib.suppress(OSError):
            self.sock.sendall(abort.encode())

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


def kernel_timeouts(sock: socket.socket, timeout: float) -> None:
    """A blocking socket whose reads and writes time out in the kernel (SO_RCVTIMEO,
    SO_SNDTIMEO; a timeout shows as BlockingIOError). Python's own socket timeout polls before
    every read and write: twice the system calls, and each one hands the GIL to another
    association's thread and back, which with four storing associations cost more CPU than the
    work itself."""
    sock.settimeout(None)
    seconds = int(timeout)
    interval = struct.pack("@ll", seconds, int((timeout - seconds) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, interval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, interval)


def _user_information(max_pdu: int, implementation: tuple[str, str]) -> list[Any]:
    length = MaximumLengthNotification()
    length.maximum_length_received = max_pdu
    class_uid = ImplementationClassUIDNotification()
    class_uid.implementation_class_uid = UID(implementation[0])
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = implementation[1]
    return [length, class_uid, version]


def _peer_max_pdu(items: list[Any] | None) -> int:
    for item in items or []:
        if isinstance(item, MaximumLengthNotification) and item.maximum_length_received:
            return int(item.maximum_length_received)
    return 1 << 20  # 0 or absent: no limit; keep PDUs reasonable all the same


class DirectAssociation:
    """One accepted association on the direct path, served on the calling thread."""

    def __init__(
        self,
        sock: socket.socket,
        request: A_ASSOCIATE,
        *,
        ae_title: str,
        max_pdu: int,
        timeout: float,
        storage: StorageArea,
        implementation: tuple[str, str],
        admit: Admit,
        echo: Echo,
        store: Store,
        retrieve: Retrieve,
        destination: Destination,
        find: Find,
        query_keys: Callable[[Dataset], dict[str, str]],
    ) -> None:
        self.link = _Link(sock, max_pdu, storage)
        self.request = request
        self.ae_title = ae_title
        self.timeout = timeout
        self.implementation = implementation
        self.admit, self.echo, self.store = admit, echo, store
        self.retrieve, self.destination, self.query_keys = retrieve, destination, query_keys
        self.find = find
        self.calling = request.calling_ae_title.strip()
        self.message_id = 0
        # Storage contexts on which the requestor took the SCP role: where C-GET sends.
        self.sendable: dict[str, list[PresentationContext]] = {}

    def serve(self) -> None:
        sock = self.link.sock
        kernel_timeouts(sock, self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        address = sock.getpeername()[0]
        self.link.read_pdu()  # the A-ASSOCIATE-RQ, already decoded when peeked
        if not self._associate():
            return
        try:
            while (message := self.link.next_message()) is not None:
                self._answer(message, address)
                if message.field == _C_STORE_RQ:
                    self.link.prepare()
        finally:
            self.link.drop_spare()

    def _associate(self) -> bool:
        if not self.admit(self.calling):
            rejection = A_ASSOCIATE()
            rejection.result, rejection.result_source, rejection.diagnostic = 0x01, 0x01, 0x03
            pdu = A_ASSOCIATE_RJ()
            pdu.from_primitive(rejection)
            self.link.sock.sendall(pdu.encode())
            log.warning("association from unregistered AE %s rejected", self.calling)
            return False
        self.link.peer_max_pdu = _peer_max_pdu(self.request.user_information)
        roles = {
            str(item.sop_class_uid): item
            for item in self.request.user_information or []
            if isinstance(item, SCP_SCU_RoleSelectionNegotiation)
        }
        results = []
        for proposed in self.request.presentation_context_definition_list:
            result = PresentationContext()
            result.context_id = proposed.context_id
            result.abstract_syntax = proposed.abstract_syntax
            # The requestor's first syntax we support, so objects stay as the modality sent them.
            chosen = [s for s in proposed.transfer_syntax if str(s) in _SYNTAXES][:1]
            result.transfer_syntax = chosen or [proposed.transfer_syntax[0]]
            if str(proposed.abstract_syntax) not in SERVED:
                chosen, result.result = [], 0x03  # abstract syntax not supported
            else:
                result.result = 0x00 if chosen else 0x04
            results.append(result)
            if chosen:
                self.link.accepted[int(proposed.context_id)] = result
                role = roles.get(str(proposed.abstract_syntax))
                if role is not None and role.scp_role:
                    self.sendable.setdefault(str(proposed.abstract_syntax), []).append(result)
        accept = A_ASSOCIATE()
        accept.application_context_name = self.request.application_context_name
        accept.calling_ae_title = self.request.calling_ae_title
        accept.called_ae_title = self.request.called_ae_title
        accept.result, accept.result_source = 0x00, 0x01
        accept.presentation_context_definition_results_list = results
        accept.user_information = _user_information(self.link.max_pdu, self.implementation)
        for uid, proposed_role in roles.items():  # we take whatever roles the requestor asks
            reply = SCP_SCU_RoleSelectionNegotiation()
            reply.sop_class_uid = UID(uid)
            reply.scu_role = bool(proposed_role.scu_role)
            reply.scp_role = bool(proposed_role.scp_role)
            accept.user_information.append(reply)
        pdu = A_ASSOCIATE_AC()
        pdu.from_primitive(accept)
        self.link.sock.sendall(pdu.encode())
        return True

    def _answer(self, message: _Message, address: str) -> None:
        context_id = message.context_id
        field = message.field
        if field in (_C_GET_RQ, _C_MOVE_RQ):
            self._retrieve(message, context_id)
            return
        if field == _C_FIND_RQ:
            self._query(message, context_id)
            return
        if field == _C_STORE_RQ:
            status: Any = None
            try:
                status = self.store(self.calling, address, message.path)
            finally:  # a success means the archive took the file
                message.discard(taken=status == SUCCESS)
            message_id = message.fields.us(commands.MESSAGE_ID) if message.fields else None
            if status == SUCCESS and message_id is not None:
                # the common answer, encoded by hand (pynetdicom's encoder cost 0.3 ms)
                encoded = commands.store_success(
                    message_id, message.sop_class_uid, message.sop_instance_uid
                )
                self.link.send_encoded(context_id, encoded, b"")
                return
            response: Any = C_STORE()
            response.AffectedSOPClassUID = message.command.AffectedSOPClassUID
            response.AffectedSOPInstanceUID = message.command.AffectedSOPInstanceUID
            encoder: Any = C_STORE_RSP()
        elif field == _C_ECHO_RQ:
            status = self.echo(self.calling)
            response = C_ECHO()
            response.AffectedSOPClassUID = message.command.AffectedSOPClassUID
            encoder = C_ECHO_RSP()
        elif field == _C_CANCEL_RQ:
            return  # nothing under way to cancel
        else:  # nothing else can come on a context we accepted; refuse it all the same
            self.link.abort()
            raise ConnectionAbortedError(f"unexpected DIMSE command {field:#06x}")
        response.MessageIDBeingRespondedTo = message.command.MessageID
        _set_status(response, status)
        self.link.send(encoder, response, context_id)

    # -- C-FIND ---------------------------------------------------------------------------------

    def _query(self, message: _Message, context_id: int) -> None:
        syntax = self.link.accepted[context_id].transfer_syntax[0]
        identifier = message.identifier(syntax)
        sop_class = str(self.link.accepted[context_id].abstract_syntax)
        message_id = message.fields.us(commands.MESSAGE_ID) if message.fields else None
        pending: bytes | None = None  # every pending response has the same command set
        for status, answer in self.find(self.calling, identifier, self._cancelled):
            data = None
            if answer is not None:
                if syntax.is_little_endian and not syntax.is_deflated:
                    data = answers.encode(answer, syntax.is_implicit_VR)
                if data is None:
                    data = encode(answer.dataset(), syntax.is_implicit_VR, syntax.is_little_endian)
            if isinstance(status, int) and message_id is not None:
                if status == PENDING and data and pending is not None:
                    command = pending
                else:
                    command = commands.find_response(sop_class, message_id, status, bool(data))
                    if status == PENDING and data:
                        pending = command
                self.link.send_encoded(context_id, command, data or b"")
                continue
            response = C_FIND()
            response.MessageIDBeingRespondedTo = message.command.MessageID
            response.AffectedSOPClassUID = self.link.accepted[context_id].abstract_syntax
            _set_status(response, status)
            if data is not None:
                response.Identifier = BytesIO(data)
            encoder = C_FIND_RSP()
            self.link.send(encoder, response, context_id)
            if status == PENDING and data is not None:
                pending = encode(encoder.command_set, True, True)

    def _cancelled(self) -> bool:
        """Has the requestor sent a C-CANCEL (read between answers)?"""
        if not self.link.readable():
            return False
        message = self.link.next_message()
        return message is None or message.field == _C_CANCEL_RQ

    # -- C-GET and C-MOVE -----------------------------------------------------------------------

    def _retrieve(self, message: _Message, context_id: int) -> None:
        request = message.command
        is_move = message.field == _C_MOVE_RQ
        syntax = self.link.accepted[context_id].transfer_syntax[0]
        identifier = message.identifier(syntax)
        answer = _Answer(self, context_id, int(request.MessageID), is_move)
        found = self.retrieve(self.calling, self.query_keys(identifier))
        if isinstance(found, int):
            answer.final(found)
            return
        if not is_move:
            self._send_all(found, self.link, self.sendable, answer, None)
            return
        where = self.destination(self.calling, str(request.MoveDestination).strip())
        if isinstance(where, int):
            answer.final(where)
            return
        if not found:
            answer.final(SUCCESS)
            return
        destination = str(request.MoveDestination).strip()
        try:
            link, contexts = self._open(where, destination, found)
        except (OSError, ConnectionError) as exc:
            log.warning("C-MOVE destination %s unreachable: %s", destination, exc)
            answer.final(DESTINATION_UNKNOWN)
            return
        try:
            originator = (self.calling, int(request.MessageID))
            self._send_all(found, link, contexts, answer, originator)
            with contextlib.suppress(OSError, ConnectionError):
                link.sock.sendall(_RELEASE_RQ)
                link.read_pdu()
        finally:
            link.sock.close()

    def _send_all(
        self,
        found: list[Any],
        link: _Link,
        contexts: dict[str, list[PresentationContext]],
        answer: _Answer,
        originator: tuple[str, int] | None,
    ) -> None:
        """C-STORE each file over ``link``. The next file is read while the receiver works on
        the current one (one operation at a time, as no asynchronous window is negotiated)."""
        ready = self._prepare(contexts, found[0]) if found else None
        for index, instance in enumerate(found):
            if self.link is not link and self._cancelled():
                answer.final(CANCEL, remaining=len(found) - index)
                return
            more = index + 1 < len(found)
            if isinstance(ready, int):
                status: int | None = ready
                ready = self._prepare(contexts, found[index + 1]) if more else None
            else:
                assert ready is not None
                self.message_id = self.message_id % 65535 + 1
                command = commands.store_request(
                    instance.sop_class_uid, instance.sop_instance_uid, self.message_id, originator
                )
                link.send_encoded(ready[0], command, ready[1])
                ready = self._prepare(contexts, found[index + 1]) if more else None
                status = self._stored(link)
            if status is None:  # a C-CANCEL came on the C-GET association
                answer.final(CANCEL, remaining=len(found) - index)
                return
            answer.count(status, instance.sop_instance_uid)
            if more:
                answer.pending(len(found) - index - 1)
        answer.final(answer.outcome(len(found)))

    def _open(
        self, where: tuple[str, int], destination: str, found: list[Any]
    ) -> tuple[_Link, dict[str, list[PresentationContext]]]:
        """Associate with a C-MOVE destination, proposing each stored class and syntax with
        uncompressed ones as fallback."""
        sock = socket.create_connection(where, timeout=self.timeout)
        kernel_timeouts(sock, self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(sock, self.link.max_pdu)
        proposed = []
        for number, (uid, syntaxes) in enumerate(proposals(found).items()):
            context = PresentationContext()
            context.context_id = 2 * number + 1
            context.abstract_syntax = UID(uid)
            context.transfer_syntax = [UID(s) for s in syntaxes]
            proposed.append(context)
        request = A_ASSOCIATE()
        request.application_context_name = _APPLICATION_CONTEXT
        request.calling_ae_title = self.ae_title
        request.called_ae_title = destination
        request.presentation_context_definition_list = proposed
        request.user_information = _user_information(self.link.max_pdu, self.implementation)
        pdu = A_ASSOCIATE_RQ()
        pdu.from_primitive(request)
        sock.sendall(pdu.encode())
        pdu_type, body = link.read_pdu()
        if pdu_type != 0x02:
            sock.close()
            raise ConnectionRefusedError(f"{destination} did not accept the association")
        accepted = A_ASSOCIATE_AC()
        accepted.decode(body)
        reply = accepted.to_primitive()
        link.peer_max_pdu = _peer_max_pdu(reply.user_information)
        by_id = {int(c.context_id): c for c in proposed}
        contexts: dict[str, list[PresentationContext]] = {}
        for result in reply.presentation_context_definition_results_list:
            if result.result == 0x00 and int(result.context_id) in by_id:
                result.abstract_syntax = by_id[int(result.context_id)].abstract_syntax
                link.accepted[int(result.context_id)] = result
                contexts.setdefault(str(result.abstract_syntax), []).append(result)
        return link, contexts

    def _prepare(
        self, contexts: dict[str, list[PresentationContext]], instance: Any
    ) -> tuple[int, memoryview] | int:
        """The presentation context and data set bytes to C-STORE ``instance`` with: its stored
        bytes when the receiver took their syntax, else decompressed; or a failure status."""
        usable = contexts.get(instance.sop_class_uid, [])
        stored = str(instance.transfer_syntax_uid)
        same = [c for c in usable if str(c.transfer_syntax[0]) == stored]
        try:
            if same:
                with open(instance.path, "rb") as f:
                    data = f.read()
                offset = _data_set_offset(data)
                if offset is None:
                    offset = split_dataset(instance.path)[1]
                return int(same[0].context_id), memoryview(data)[offset:]
            plain = [c for c in usable if str(c.transfer_syntax[0]) in _UNCOMPRESSED]
            if not plain:
                log.warning("%s: no usable presentation context", instance.sop_instance_uid)
                return NONE_DONE
            converted = _converted(instance.path, plain[0].transfer_syntax[0])
            return int(plain[0].context_id), memoryview(converted)
        except Exception:
            log.exception("cannot read %s", instance.path)
            return NONE_DONE

    @staticmethod
    def _stored(link: _Link) -> int | None:
        """The status of the C-STORE just sent (None: the peer cancelled instead)."""
        while True:
            answer = link.next_response()
            if answer is None:
                raise ConnectionAbortedError("the receiver left during a retrieve")
            field, status = answer
            if field == _C_CANCEL_RQ:
                return None
            if field == _C_STORE_RSP:
                if status is None:
                    raise ConnectionAbortedError("a C-STORE response without a status")
                return status


class _Answer:
    """The C-GET/C-MOVE responses of one request: pending ones with counts, then the final."""

    def __init__(
        self, association: DirectAssociation, context_id: int, message_id: int, is_move: bool
    ) -> None:
        self.association = association
        self.context_id = context_id
        self.message_id = message_id
        self.is_move = is_move
        self.completed = self.warning = 0
        self.failed: list[str] = []

    def count(self, status: int, sop_instance_uid: str) -> None:
        if status == SUCCESS:
            self.completed += 1
        elif status & 0xF000 == WARNING:
            self.warning += 1
        else:
            self.failed.append(sop_instance_uid)

    def outcome(self, total: int) -> int:
        if total and len(self.failed) == total:
            return NONE_DONE
        return SUCCESS if not self.failed and not self.warning else WARNING

    def pending(self, remaining: int) -> None:
        link = self.association.link
        link.send_command(
            self.context_id,
            commands.retrieve_pending(
                self.is_move,
                str(link.accepted[self.context_id].abstract_syntax),
                self.message_id,
                remaining=remaining,
                completed=self.completed,
                failed=len(self.failed),
                warning=self.warning,
            ),
        )

    def final(self, status: int, remaining: int | None = None) -> None:
        self._send(status, remaining)

    def _send(self, status: int, remaining: int | None) -> None:
        link = self.association.link
        response: Any = C_MOVE() if self.is_move else C_GET()
        response.MessageIDBeingRespondedTo = self.message_id
        response.AffectedSOPClassUID = link.accepted[self.context_id].abstract_syntax
        response.Status = status
        if status not in (NOT_AUTHORIZED, DESTINATION_UNKNOWN):
            response.NumberOfCompletedSuboperations = self.completed
            response.NumberOfWarningSuboperations = self.warning
            response.NumberOfFailedSuboperations = len(self.failed)
        if remaining is not None:
            response.NumberOfRemainingSuboperations = remaining
        if self.failed and status != PENDING:
            identifier = Dataset()
            identifier.FailedSOPInstanceUIDList = self.failed
            syntax = link.accepted[self.context_id].transfer_syntax[0]
            response.Identifier = BytesIO(
                encode(identifier, syntax.is_implicit_VR, syntax.is_little_endian)
            )
        link.send(C_MOVE_RSP() if self.is_move else C_GET_RSP(), response, self.context_id)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _response(fields: CommandSet) -> tuple[int, int | None]:
    field = fields.us(commands.COMMAND_FIELD)
    if field is None:
        raise ConnectionAbortedError("a DIMSE message without a command field")
    return field, fields.us(0x0900)  # Status


def _data_set_offset(data: bytes) -> int | None:
    """Where the data set starts in a Part 10 file: after the preamble, ``DICM`` and the
    explicit VR little endian group 0002 elements (None: not laid out that way)."""
    if data[128:132] != b"DICM":
        return None
    offset = 132
    while offset + 8 <= len(data):
        group = struct.unpack_from("<H", data, offset)[0]
        if group != 0x0002:
            return offset
        vr = data[offset + 4 : offset + 6]
        if vr in _LONG_VRS:
            length = struct.unpack_from("<I", data, offset + 8)[0]
            offset += 12 + length
        else:
            offset += 8 + struct.unpack_from("<H", data, offset + 6)[0]
    return offset if offset == len(data) else None


def _set_status(response: Any, status: int | Dataset) -> None:
    """A handler's status, a code or a status data set with an error comment."""
    if isinstance(status, Dataset):
        response.Status = int(status.Status)
        if "ErrorComment" in status:
            response.ErrorComment = status.ErrorComment
    else:
        response.Status = int(status)


def proposals(found: list[Any]) -> dict[str, list[str]]:
    """What to propose to a receiver of stored objects: per SOP class (at most 128), their
    stored syntaxes, then uncompressed ones as fallback."""
    wanted: dict[str, list[str]] = {}
    for instance in found:
        syntaxes = wanted.setdefault(instance.sop_class_uid, [])
        for syntax in (str(instance.transfer_syntax_uid), *_UNCOMPRESSED):
            if syntax not in syntaxes:
                syntaxes.append(syntax)
    return dict(list(wanted.items())[:128])


def uncompressed(path: Any) -> Dataset:
    """A stored object decompressed for a receiver that takes none of its compressed syntax.
    A change of transfer syntax is the same object: it keeps its SOP Instance UID (pydicom 3
    mints a new one by default)."""
    from pydicom import dcmread

    dataset = dcmread(path)
    if dataset.file_meta.TransferSyntaxUID.is_compressed:
        dataset.decompress(generate_instance_uid=False)
    return dataset


def _converted(path: Any, syntax: UID) -> bytes:
    """The object re-encoded in an uncompressed syntax."""
    data = encode(uncompressed(path), syntax.is_implicit_VR, syntax.is_little_endian)
    if data is None:
        raise ValueError(f"cannot encode {path} as {syntax.name}")
    return data
