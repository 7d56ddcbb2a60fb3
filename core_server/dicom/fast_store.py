"""A direct path for associations that only store (and echo): modalities sending images.

pynetdicom serves each association with two threads that poll each other and their socket,
sleeping a millisecond whenever a turn finds nothing to do, and spends about 2 ms of CPU and
3.4 ms of wall time per 512 kB C-STORE before any handler runs (profile in the README). For an
association whose every presentation context is a storage SOP class or Verification, this
module reads the socket itself on one blocking thread: PDUs and DIMSE messages are still
decoded and encoded by pynetdicom's own classes (the data set fragments go straight to a file
in the storage area's incoming folder, as in pynetdicom's chunked mode), only the threads and
their polling are replaced. Anything else (queries, retrieves, role selection for C-GET,
storage commitment, user identity) is left to pynetdicom untouched.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from typing import Any

from pydicom import Dataset
from pydicom.uid import UID
from pynetdicom import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
from pynetdicom.dimse_messages import C_ECHO_RSP, C_STORE_RSP, DIMSEMessage
from pynetdicom.dimse_primitives import C_ECHO, C_STORE
from pynetdicom.pdu import A_ABORT_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ, A_ASSOCIATE_RQ, P_DATA_TF
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import Verification

log = logging.getLogger(__name__)

STORAGE_CLASSES = frozenset(str(c.abstract_syntax) for c in AllStoragePresentationContexts)
_SERVED = STORAGE_CLASSES | {str(Verification)}
_SYNTAXES = frozenset(str(s) for s in ALL_TRANSFER_SYNTAXES)
# User information items this path understands; any other (role selection, user identity,
# extended negotiation...) sends the association to pynetdicom.
_PLAIN_ITEMS = (
    MaximumLengthNotification,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
)
_RELEASE_RP = b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"
_C_STORE_RQ, _C_ECHO_RQ = 0x0001, 0x0030

# (calling AE title, remote address) -> may it associate at all? (strict mode)
Admit = Callable[[str], bool]
# (calling AE title, remote address, incoming file path) -> status (int or status Dataset)
Store = Callable[[str, str, Any], "int | Dataset"]
# calling AE title -> status of a C-ECHO
Echo = Callable[[str], int]


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


def serves(request: A_ASSOCIATE) -> bool:
    """Does this request only store and echo, with nothing else negotiated?"""
    contexts = request.presentation_context_definition_list or []
    items = request.user_information or []
    return (
        bool(contexts)
        and all(str(c.abstract_syntax) in _SERVED for c in contexts)
        and all(isinstance(item, _PLAIN_ITEMS) for item in items)
    )


class _Accepted:
    """What pynetdicom's DIMSE decoder asks of an association: the accepted contexts."""

    def __init__(self, contexts: dict[int, PresentationContext]) -> None:
        self._accepted_cx = contexts


class StoreAssociation:
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
    ) -> None:
        self.sock = sock
        self.request = request
        self.ae_title = ae_title
        self.max_pdu = max_pdu
        self.timeout = timeout
        self.implementation = implementation
        self.admit, self.echo, self.store = admit, echo, store
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
        message = DIMSEMessage()
        holder = _Accepted(self.accepted)
        while True:
            pdu_type, body = self._read_pdu()
            if pdu_type == 0x04:
                pdu = P_DATA_TF()
                pdu.decode(body)
                if message.decode_msg(pdu.to_primitive(), holder):  # type: ignore[arg-type]
                    self._answer(message, address)
                    message = DIMSEMessage()
            elif pdu_type == 0x05:
                self.sock.sendall(_RELEASE_RP)
                return
            elif pdu_type == 0x07:
                log.info("association from %s aborted by the peer", self.calling)
                return
            else:
                self._abort()
                return

    def _associate(self) -> bool:
        if not self.admit(self.calling):
            rejection = A_ASSOCIATE()
            rejection.result, rejection.result_source, rejection.diagnostic = 0x01, 0x01, 0x03
            pdu = A_ASSOCIATE_RJ()
            pdu.from_primitive(rejection)
            self.sock.sendall(pdu.encode())
            log.warning("association from unregistered AE %s rejected", self.calling)
            return False
        for item in self.request.user_information or []:
            if isinstance(item, MaximumLengthNotification) and item.maximum_length_received:
                self.peer_max_pdu = int(item.maximum_length_received)
        results = []
        for proposed in self.request.presentation_context_definition_list:
            result = PresentationContext()
            result.context_id = proposed.context_id
            result.abstract_syntax = proposed.abstract_syntax
            # The requestor's first syntax we support, so objects stay as the modality sent them.
            chosen = [s for s in proposed.transfer_syntax if str(s) in _SYNTAXES][:1]
            result.transfer_syntax = chosen or [proposed.transfer_syntax[0]]
            result.result = 0x00 if chosen else 0x04
            results.append(result)
            if chosen:
                self.accepted[int(proposed.context_id)] = result
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
        encoder.primitive_to_message(response)
        for p_data in encoder.encode_msg(context_id, self.peer_max_pdu):
            pdu = P_DATA_TF()
            pdu.from_primitive(p_data)
            self.sock.sendall(pdu.encode())

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
