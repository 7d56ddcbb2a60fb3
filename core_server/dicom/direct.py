"""A direct path for associations that store, echo or retrieve with C-GET: modalities sending
images, workstations and viewers fetching them.

pynetdicom serves each association with two threads that poll each other and their socket,
sleeping a millisecond whenever a turn finds nothing to do, and spends about 2 ms of CPU and
3.4 ms of wall time per 512 kB C-STORE before any handler runs (profile in the README). For an
association whose every presentation context is a storage SOP class or Verification, this
module reads the socket itself on one blocking thread: PDUs and DIMSE messages are still
decoded and encoded by pynetdicom's own classes (the data set fragments go straight to a file
in the storage area's incoming folder, as in pynetdicom's chunked mode), only the threads and
their polling are replaced. A C-GET sends the stored files' bytes as they are, without decoding
and re-encoding them, whenever the requestor accepted the stored transfer syntax. Anything else
(C-FIND, C-MOVE, storage commitment, user identity, extended negotiation) is left to pynetdicom.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from io import BytesIO
from typing import Any

from pydicom import Dataset
from pydicom.uid import UID
from pynetdicom import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
from pynetdicom.dimse_messages import C_ECHO_RSP, C_GET_RSP, C_STORE_RQ, C_STORE_RSP, DIMSEMessage
from pynetdicom.dimse_primitives import C_ECHO, C_GET, C_STORE
from pynetdicom.dsutils import decode, encode, split_dataset
from pynetdicom.pdu import A_ABORT_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ, A_ASSOCIATE_RQ, P_DATA_TF
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    SCP_SCU_RoleSelectionNegotiation,
)
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelGet,
    Verification,
)

log = logging.getLogger(__name__)

STORAGE_CLASSES = frozenset(str(c.abstract_syntax) for c in AllStoragePresentationContexts)
GET_MODELS = frozenset(
    str(m)
    for m in (
        PatientRootQueryRetrieveInformationModelGet,
        StudyRootQueryRetrieveInformationModelGet,
    )
)
SERVED = STORAGE_CLASSES | GET_MODELS | {str(Verification)}
_SYNTAXES = frozenset(str(s) for s in ALL_TRANSFER_SYNTAXES)
# User information items this path understands; any other (role selection, user identity,
# extended negotiation...) sends the association to pynetdicom.
_PLAIN_ITEMS = (
    MaximumLengthNotification,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    SCP_SCU_RoleSelectionNegotiation,
)
_RELEASE_RP = b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"
_C_STORE_RQ, _C_ECHO_RQ, _C_GET_RQ, _C_CANCEL_RQ = 0x0001, 0x0030, 0x0010, 0x0FFF
_UNCOMPRESSED = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
SUCCESS, PENDING, CANCEL, WARNING = 0x0000, 0xFF00, 0xFE00, 0xB000

# (calling AE title, remote address) -> may it associate at all? (strict mode)
Admit = Callable[[str], bool]
# (calling AE title, remote address, incoming file path) -> status (int or status Dataset)
Store = Callable[[str, str, Any], "int | Dataset"]
# calling AE title -> status of a C-ECHO
Echo = Callable[[str], int]
# (calling AE title, query keys) -> the files to send, or a refusal status
Retrieve = Callable[[str, dict[str, str]], "list[Any] | int"]


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
        log.debug("association request not decodable on the fast path", exc_info=True)
        return None


def serves(request: A_ASSOCIATE, elsewhere: frozenset[str]) -> bool:
    """Does this request ask for nothing but storage, verification and C-GET (and SOP classes
    no one here serves, which are rejected), with nothing else negotiated? ``elsewhere``: the
    abstract syntaxes pynetdicom serves and this path does not (C-FIND, C-MOVE, commitment)."""
    contexts = request.presentation_context_definition_list or []
    items = request.user_information or []
    syntaxes = {str(c.abstract_syntax) for c in contexts}
    return (
        bool(syntaxes & SERVED)
        and not syntaxes & elsewhere
        and all(isinstance(item, _PLAIN_ITEMS) for item in items)
    )


class _Accepted:
    """What pynetdicom's DIMSE decoder asks of an association: the accepted contexts."""

    def __init__(self, contexts: dict[int, PresentationContext]) -> None:
        self._accepted_cx = contexts


class DirectAssociation:
    """One association on the fast path, served on the calling thread until it ends."""

    def __init__(
        self,
        sock: socket.socket,
        request: A_ASSOCIATE,
        *,
        ae_title: str,
        max_pdu: int,
        timeout: float,
        implementation: tuple[str, str],
        admit: Admit,
        echo: Echo,
        store: Store,
        retrieve: Retrieve,
        query_keys: Callable[[Dataset], dict[str, str]],
    ) -> None:
        self.sock = sock
        self.request = request
        self.ae_title = ae_title
        self.max_pdu = max_pdu
        self.timeout = timeout
        self.implementation = implementation
        self.admit, self.echo, self.store = admit, echo, store
        self.retrieve, self.query_keys = retrieve, query_keys
        self.message_id = 0
        # Storage contexts on which the requestor took the SCP role: where C-GET sends.
        self.sendable: dict[str, list[PresentationContext]] = {}
        self.calling = request.calling_ae_title.strip()
        self.peer_max_pdu = 16382
        self.accepted: dict[int, PresentationContext] = {}

    def serve(self) -> None:
        self.sock.settimeout(self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        address = self.sock.getpeername()[0]
        self._read_pdu()  # the A-ASSOCIATE-RQ, already decoded when peeked
        if not self._associate():
            return
        self.address = address
        while (message := self._next_message()) is not None:
            self._answer(message, address)

    def _next_message(self) -> DIMSEMessage | None:
        """The next complete DIMSE message; None once the peer released or aborted."""
        message = DIMSEMessage()
        holder = _Accepted(self.accepted)
        while True:
            pdu_type, body = self._read_pdu()
            if pdu_type == 0x04:
                pdu = P_DATA_TF()
                pdu.decode(body)
                if message.decode_msg(pdu.to_primitive(), holder):  # type: ignore[arg-type]
                    return message
            elif pdu_type == 0x05:
                self.sock.sendall(_RELEASE_RP)
                return None
            elif pdu_type == 0x07:
                log.info("association from %s aborted by the peer", self.calling)
                return None
            else:
                self._abort()
                return None

    def _associate(self) -> bool:
        if not self.admit(self.calling):
            rejection = A_ASSOCIATE()
            rejection.result, rejection.result_source, rejection.diagnostic = 0x01, 0x01, 0x03
            pdu = A_ASSOCIATE_RJ()
            pdu.from_primitive(rejection)
            self.sock.sendall(pdu.encode())
            log.warning("association from unregistered AE %s rejected", self.calling)
            return False
        roles: dict[str, SCP_SCU_RoleSelectionNegotiation] = {}
        for item in self.request.user_information or []:
            if isinstance(item, MaximumLengthNotification) and item.maximum_length_received:
                self.peer_max_pdu = int(item.maximum_length_received)
            elif isinstance(item, SCP_SCU_RoleSelectionNegotiation):
                roles[str(item.sop_class_uid)] = item
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
                self.accepted[int(proposed.context_id)] = result
                role = roles.get(str(proposed.abstract_syntax))
                if role is not None and role.scp_role:
                    self.sendable.setdefault(str(proposed.abstract_syntax), []).append(result)
        accept = A_ASSOCIATE()
        accept.application_context_name = self.request.application_context_name
        accept.calling_ae_title = self.request.calling_ae_title
        accept.called_ae_title = self.request.called_ae_title
        accept.result, accept.result_source = 0x00, 0x01
        accept.presentation_context_definition_results_list = results
        length = MaximumLengthNotification()
        length.maximum_length_received = self.max_pdu
        class_uid = ImplementationClassUIDNotification()
        class_uid.implementation_class_uid = UID(self.implementation[0])
        version = ImplementationVersionNameNotification()
        version.implementation_version_name = self.implementation[1]
        accept.user_information = [length, class_uid, version]
        for uid, proposed_role in roles.items():  # we take whatever roles the requestor asks
            reply = SCP_SCU_RoleSelectionNegotiation()
            reply.sop_class_uid = UID(uid)
            reply.scu_role = bool(proposed_role.scu_role)
            reply.scp_role = bool(proposed_role.scp_role)
            accept.user_information.append(reply)
        pdu = A_ASSOCIATE_AC()
        pdu.from_primitive(accept)
        self.sock.sendall(pdu.encode())
        return True

    def _answer(self, message: DIMSEMessage, address: str) -> None:
        command = message.command_set
        context_id = int(message.context_id)
        if command.CommandField == _C_STORE_RQ:
            request = message.message_to_primitive()
            path = request._dataset_path  # type: ignore[union-attr]
            try:
                status = self.store(self.calling, address, path)
            finally:
                if request._dataset_file:  # type: ignore[union-attr]
                    request._dataset_file.close()  # type: ignore[union-attr]
                path.unlink(missing_ok=True)
            response: Any = C_STORE()
            response.AffectedSOPClassUID = command.AffectedSOPClassUID
            response.AffectedSOPInstanceUID = command.AffectedSOPInstanceUID
            encoder: Any = C_STORE_RSP()
        elif command.CommandField == _C_GET_RQ:
            self._get(message, context_id)
            return
        elif command.CommandField == _C_ECHO_RQ:
            status = self.echo(self.calling)
            response = C_ECHO()
            response.AffectedSOPClassUID = command.AffectedSOPClassUID
            encoder = C_ECHO_RSP()
        else:  # nothing else can come on a context we accepted; refuse it all the same
            self._abort()
            raise ConnectionAbortedError(f"unexpected DIMSE command {command.CommandField:#06x}")
        response.MessageIDBeingRespondedTo = command.MessageID
        if isinstance(status, Dataset):
            response.Status = int(status.Status)
            if "ErrorComment" in status:
                response.ErrorComment = status.ErrorComment
        else:
            response.Status = int(status)
        self._send(encoder, response, context_id)

    def _send(self, encoder: DIMSEMessage, primitive: Any, context_id: int) -> None:
        encoder.primitive_to_message(primitive)
        for p_data in encoder.encode_msg(context_id, self.peer_max_pdu):
            pdu = P_DATA_TF()
            pdu.from_primitive(p_data)
            self.sock.sendall(pdu.encode())

    # -- C-GET ----------------------------------------------------------------------------------

    def _get(self, message: DIMSEMessage, context_id: int) -> None:
        request = message.message_to_primitive()
        syntax = self.accepted[context_id].transfer_syntax[0]
        identifier = decode(
            request.Identifier,  # type: ignore[union-attr]
            syntax.is_implicit_VR,
            syntax.is_little_endian,
            syntax.is_deflated,
        )
        message_id = int(request.MessageID)  # type: ignore[union-attr]
        found = self.retrieve(self.calling, self.query_keys(identifier))
        if isinstance(found, int):
            self._get_response(context_id, message_id, found)
            return
        completed = warning = 0
        failed: list[str] = []
        for index, instance in enumerate(found):
            status = self._send_instance(instance)
            if status is None:  # a C-CANCEL came: stop, say what was done
                remaining = len(found) - index
                self._get_response(
                    context_id, message_id, CANCEL, completed, warning, failed, remaining
                )
                return
            if status == SUCCESS:
                completed += 1
            elif status & 0xF000 == WARNING:
                warning += 1
            else:
                failed.append(instance.sop_instance_uid)
            remaining = len(found) - index - 1
            if remaining:
                self._get_response(
                    context_id, message_id, PENDING, completed, warning, [], remaining
                )
        final = SUCCESS if not failed and not warning else WARNING
        if found and len(failed) == len(found):
            final = 0xA702  # refused: out of resources, unable to perform any sub-operation
        self._get_response(context_id, message_id, final, completed, warning, failed)

    def _send_instance(self, instance: Any) -> int | None:
        """C-STORE one stored file to the requestor; its status (None: the peer cancelled)."""
        contexts = self.sendable.get(instance.sop_class_uid, [])
        stored = str(instance.transfer_syntax_uid)
        same = [c for c in contexts if str(c.transfer_syntax[0]) == stored]
        try:
            if same:
                context = same[0]
                _, offset = split_dataset(instance.path)
                with open(instance.path, "rb") as f:
                    f.seek(offset)
                    data = f.read()
            else:
                plain = [c for c in contexts if str(c.transfer_syntax[0]) in _UNCOMPRESSED]
                if not plain:
                    log.warning("C-GET: %s has no usable context", instance.sop_instance_uid)
                    return 0xA702
                context = plain[0]
                data = _converted(instance.path, context.transfer_syntax[0])
        except Exception:
            log.exception("C-GET: cannot read %s", instance.path)
            return 0xA702
        self.message_id = self.message_id % 65535 + 1
        store = C_STORE()
        store.MessageID = self.message_id
        store.AffectedSOPClassUID = instance.sop_class_uid
        store.AffectedSOPInstanceUID = instance.sop_instance_uid
        store.Priority = 0x0000
        store.DataSet = BytesIO(data)
        self._send(C_STORE_RQ(), store, int(context.context_id))
        while True:
            answer = self._next_message()
            if answer is None:
                raise ConnectionAbortedError("peer left during a C-GET")
            field = answer.command_set.CommandField
            if field == _C_CANCEL_RQ:
                return None
            if field == 0x8001:
                return int(answer.command_set.Status)

    def _get_response(
        self,
        context_id: int,
        message_id: int,
        status: int,
        completed: int = 0,
        warning: int = 0,
        failed: list[str] | None = None,
        remaining: int | None = None,
    ) -> None:
        response = C_GET()
        response.MessageIDBeingRespondedTo = message_id
        response.AffectedSOPClassUID = self.accepted[context_id].abstract_syntax
        response.Status = status
        failed = failed or []
        if status != 0x0124:
            response.NumberOfCompletedSuboperations = completed
            response.NumberOfWarningSuboperations = warning
            response.NumberOfFailedSuboperations = len(failed)
        if remaining is not None:
            response.NumberOfRemainingSuboperations = remaining
        if failed and status != PENDING:
            identifier = Dataset()
            identifier.FailedSOPInstanceUIDList = failed
            syntax = self.accepted[context_id].transfer_syntax[0]
            response.Identifier = BytesIO(
                encode(identifier, syntax.is_implicit_VR, syntax.is_little_endian)
            )
        self._send(C_GET_RSP(), response, context_id)

    def _read_pdu(self) -> tuple[int, bytes]:
        header = self._read(6)
        length = struct.unpack(">I", header[2:6])[0]
        if length > max(self.max_pdu, 1 << 16) + 1024 and header[0] == 0x04:
            self._abort()
            raise ConnectionAbortedError(f"P-DATA PDU of {length} bytes exceeds our maximum")
        return header[0], header + self._read(length)

    def _read(self, size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        while view:
            got = self.sock.recv_into(view)
            if not got:
                raise ConnectionResetError("peer closed the connection")
            view = view[got:]
        return bytes(buffer)

    def _abort(self) -> None:
        abort = A_ABORT_RQ()
        abort.source, abort.reason_diagnostic = 0x02, 0x00
        with contextlib.suppress(OSError):
            self.sock.sendall(abort.encode())


def _converted(path: Any, syntax: UID) -> bytes:
    """The object re-encoded in an uncompressed syntax, decompressed if need be (a receiver
    that takes none of its stored syntax); it keeps its SOP Instance UID."""
    from pydicom import dcmread

    dataset = dcmread(path)
    if dataset.file_meta.TransferSyntaxUID.is_compressed:
        dataset.decompress(generate_instance_uid=False)
    data = encode(dataset, syntax.is_implicit_VR, syntax.is_little_endian)
    if data is None:
        raise ValueError(f"cannot encode {path} as {syntax.name}")
    return data
