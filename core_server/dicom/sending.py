"""C-GET and C-MOVE on the direct path: the stored files sent as C-STORE sub-operations, over
the requestor's own association (C-GET) or one opened to the move destination (C-MOVE).

A stored file's bytes go out as they are whenever the receiver accepted its transfer syntax,
without decoding and re-encoding them; otherwise it is transcoded to a syntax the receiver
took: decompressed to an uncompressed one if it took one, else compressed losslessly to a
JPEG-LS, JPEG 2000 or RLE syntax it took (storage.compression.codecs); else the sub-operation
fails. The next file is read while the receiver works on the current one (one
operation at a time, as no asynchronous window is negotiated).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
from collections.abc import Callable
from io import BytesIO
from typing import Any

from pydicom import Dataset
from pydicom.uid import UID
from pynetdicom.dimse_messages import C_GET_RSP, C_MOVE_RSP
from pynetdicom.dimse_primitives import C_GET, C_MOVE
from pynetdicom.dsutils import encode, split_dataset
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import A_ASSOCIATE
from pynetdicom.presentation import PresentationContext

from core_server.archive import InstanceFile
from core_server.dicom import commands, negotiation
from core_server.dicom.handlers import (
    CANCEL,
    MOVE_DESTINATION_UNKNOWN,
    NONE_DONE,
    NOT_AUTHORIZED,
    PENDING,
    SUCCESS,
    WARNING,
    AssociationHandler,
    Destination,
    Status,
)
from core_server.dicom.handlers import status as with_comment
from core_server.dicom.link import (
    C_CANCEL_RQ,
    C_MOVE_RQ,
    C_STORE_RSP,
    RELEASE_RQ,
    Link,
    Message,
    kernel_timeouts,
)
from core_server.storage.compression import codecs

log = logging.getLogger(__name__)
# Explicit VRs with a 4-byte length (PS3.5 7.1.2), as file meta elements may use them.
_LONG_VRS = frozenset((b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"))
Contexts = dict[str, list[PresentationContext]]  # SOP class -> accepted contexts


class Retrieval:
    """The C-GET and C-MOVE requests of one association."""

    def __init__(
        self,
        link: Link,
        *,
        ae_title: str,
        timeout: float,
        implementation: tuple[str, str],
        cancelled: Callable[[], bool],
        sendable: Contexts,
    ) -> None:
        self.link = link
        self.ae_title = ae_title
        self.timeout = timeout
        self.implementation = implementation
        self.cancelled = cancelled  # has the requestor sent a C-CANCEL?
        self.sendable = sendable  # C-GET: the contexts on which the requestor stores
        self.message_id = 0

    def serve(self, message: Message, handler: AssociationHandler) -> None:
        request = message.command
        context_id = message.context_id
        is_move = message.field == C_MOVE_RQ
        identifier = message.identifier(self.link.accepted[context_id].transfer_syntax[0])
        answer = SubOperations(self.link, context_id, int(request.MessageID), is_move)
        found = handler.retrieve(identifier)
        if not isinstance(found, list):
            answer.final(found)
            return
        if not is_move:
            self._send_all(found, self.link, self.sendable, answer, None)
            handler.transferred(answer.done(found), handler.calling, "C-GET", set(answer.failed))
            return
        destination = str(request.MoveDestination).strip()
        where = handler.destination(destination)
        if not isinstance(where, tuple):
            answer.final(where)
            return
        if not found:
            answer.final(SUCCESS)
            return
        self._move(found, where, destination, answer, handler, int(request.MessageID))

    def _move(
        self,
        found: list[InstanceFile],
        where: Destination,
        destination: str,
        answer: SubOperations,
        handler: AssociationHandler,
        message_id: int,
    ) -> None:
        try:
            link, contexts = self._open(where, destination, found)
        except ssl.SSLError as exc:
            # Its certificate is not one we trust (or no common TLS version or suite): every
            # sub-operation fails, the reason in the final answer's Error Comment.
            reason = tls_reason(exc)
            log.warning("C-MOVE destination %s: TLS refused: %s", destination, reason)
            handler.tls_refused(destination, where[0], reason)
            answer.failed = [f.sop_instance_uid for f in found]
            answer.final(with_comment(NONE_DONE, f"TLS to {destination} refused: {reason}"))
            return
        except (OSError, ConnectionError) as exc:
            log.warning("C-MOVE destination %s unreachable: %s", destination, exc)
            answer.final(MOVE_DESTINATION_UNKNOWN)
            return
        try:
            originator = (handler.calling, message_id)
            self._send_all(found, link, contexts, answer, originator)
            with contextlib.suppress(OSError, ConnectionError):
                link.sock.sendall(RELEASE_RQ)
                link.read_pdu()
        finally:
            link.sock.close()
            handler.transferred(answer.done(found), destination, "C-MOVE", set(answer.failed))

    def _send_all(
        self,
        found: list[InstanceFile],
        link: Link,
        contexts: Contexts,
        answer: SubOperations,
        originator: tuple[str, int] | None,
    ) -> None:
        """C-STORE each file over ``link``, the next one read while this one is stored."""
        ready = _prepare(contexts, found[0]) if found else None
        for index, instance in enumerate(found):
            if self.link is not link and self.cancelled():
                answer.final(CANCEL, remaining=len(found) - index)
                return
            more = index + 1 < len(found)
            if isinstance(ready, int):
                status: int | None = ready
                ready = _prepare(contexts, found[index + 1]) if more else None
            else:
                assert ready is not None
                self.message_id = self.message_id % 65535 + 1
                command = commands.store_request(
                    instance.sop_class_uid, instance.sop_instance_uid, self.message_id, originator
                )
                link.send_encoded(ready[0], command, ready[1])
                ready = _prepare(contexts, found[index + 1]) if more else None
                status = _stored(link)
            if status is None:  # a C-CANCEL came on the C-GET association
                answer.final(CANCEL, remaining=len(found) - index)
                return
            answer.count(status, instance.sop_instance_uid)
            if more:
                answer.pending(len(found) - index - 1)
        answer.final(answer.outcome(len(found)))

    def _open(
        self, where: Destination, destination: str, found: list[InstanceFile]
    ) -> tuple[Link, Contexts]:
        """Associate with a C-MOVE destination, proposing each stored class and syntax with
        uncompressed ones as fallback."""
        sock = socket.create_connection(where[:2], timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if where[2] is not None:
            # DICOM TLS (PS3.15 B.9): the handshake within the network timeout; the TLS
            # socket keeps Python's timeouts (ssl retries a kernel SO_RCVTIMEO for ever).
            try:
                sock = where[2].wrap_socket(sock)
            except BaseException:
                sock.close()
                raise
        else:
            kernel_timeouts(sock, self.timeout)
        link = Link(sock, self.link.max_pdu)
        proposed = []
        for number, (uid, syntaxes) in enumerate(codecs.proposals(found).items()):
            context = PresentationContext()
            context.context_id = 2 * number + 1
            context.abstract_syntax = UID(uid)
            context.transfer_syntax = [UID(s) for s in syntaxes]
            proposed.append(context)
        request = A_ASSOCIATE()
        request.application_context_name = negotiation.APPLICATION_CONTEXT
        request.calling_ae_title = self.ae_title
        request.called_ae_title = destination
        request.presentation_context_definition_list = proposed
        request.user_information = negotiation.user_information(
            self.link.max_pdu, self.implementation
        )
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
        link.peer_max_pdu = negotiation.peer_max_pdu(reply.user_information)
        by_id = {int(c.context_id): c for c in proposed}
        contexts: Contexts = {}
        for result in reply.presentation_context_definition_results_list:
            if result.result == 0x00 and int(result.context_id) in by_id:
                result.abstract_syntax = by_id[int(result.context_id)].abstract_syntax
                link.accepted[int(result.context_id)] = result
                contexts.setdefault(str(result.abstract_syntax), []).append(result)
        return link, contexts


def _prepare(contexts: Contexts, instance: InstanceFile) -> tuple[int, memoryview] | int:
    """The presentation context and data set bytes to C-STORE ``instance`` with: its stored
    bytes when the receiver took their syntax, else transcoded; or a failure status."""
    usable = contexts.get(instance.sop_class_uid, [])
    stored = str(instance.transfer_syntax_uid)
    same = [c for c in usable if str(c.transfer_syntax[0]) == stored]
    try:
        if same:
            with open(instance.path, "rb") as f:
                data = f.read()
            offset = data_set_offset(data)
            if offset is None:
                offset = split_dataset(instance.path)[1]
            return int(same[0].context_id), memoryview(data)[offset:]
        chosen = _producible(usable)
        if chosen is None:
            log.warning("%s: no usable presentation context", instance.sop_instance_uid)
            return NONE_DONE
        converted = _converted(instance.path, chosen.transfer_syntax[0])
        return int(chosen.context_id), memoryview(converted)
    except codecs.CannotCompress as exc:
        log.warning("%s: not sent, cannot be compressed: %s", instance.sop_instance_uid, exc)
        return NONE_DONE
    except Exception:
        log.exception("cannot read %s", instance.path)
        return NONE_DONE


def _producible(usable: list[PresentationContext]) -> PresentationContext | None:
    """The accepted context whose syntax costs least to make: uncompressed (a decode only),
    then the lossless syntaxes in :data:`codecs.LOSSLESS`."""
    for syntax in (*codecs.UNCOMPRESSED, *codecs.LOSSLESS):
        for context in usable:
            if str(context.transfer_syntax[0]) == syntax:
                return context
    return None


def _stored(link: Link) -> int | None:
    """The status of the C-STORE just sent (None: the peer cancelled instead)."""
    while True:
        answer = link.next_response()
        if answer is None:
            raise ConnectionAbortedError("the receiver left during a retrieve")
        field, status = answer
        if field == C_CANCEL_RQ:
            return None
        if field == C_STORE_RSP:
            if status is None:
                raise ConnectionAbortedError("a C-STORE response without a status")
            return status


class SubOperations:
    """The C-GET/C-MOVE responses of one request: pending ones with counts, then the final."""

    def __init__(self, link: Link, context_id: int, message_id: int, is_move: bool) -> None:
        self.link = link
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

    def done(self, found: list[InstanceFile]) -> list[InstanceFile]:
        """The files tried so far (sent in order): what the transfer's audit names."""
        return found[: self.completed + self.warning + len(self.failed)]

    def outcome(self, total: int) -> int:
        if total and len(self.failed) == total:
            return NONE_DONE
        return SUCCESS if not self.failed and not self.warning else WARNING

    def pending(self, remaining: int) -> None:
        self.link.send_command(
            self.context_id,
            commands.retrieve_pending(
                self.is_move,
                str(self.link.accepted[self.context_id].abstract_syntax),
                self.message_id,
                remaining=remaining,
                completed=self.completed,
                failed=len(self.failed),
                warning=self.warning,
            ),
        )

    def final(self, status: Status, remaining: int | None = None) -> None:
        link = self.link
        response: Any = C_MOVE() if self.is_move else C_GET()
        response.MessageIDBeingRespondedTo = self.message_id
        response.AffectedSOPClassUID = link.accepted[self.context_id].abstract_syntax
        set_status(response, status)
        if response.Status not in (NOT_AUTHORIZED, MOVE_DESTINATION_UNKNOWN):
            response.NumberOfCompletedSuboperations = self.completed
            response.NumberOfWarningSuboperations = self.warning
            response.NumberOfFailedSuboperations = len(self.failed)
        if remaining is not None:
            response.NumberOfRemainingSuboperations = remaining
        if self.failed and response.Status != PENDING:
            identifier = Dataset()
            identifier.FailedSOPInstanceUIDList = self.failed
            syntax = link.accepted[self.context_id].transfer_syntax[0]
            response.Identifier = BytesIO(
                encode(identifier, syntax.is_implicit_VR, syntax.is_little_endian)
            )
        link.send(C_MOVE_RSP() if self.is_move else C_GET_RSP(), response, self.context_id)


def set_status(response: Any, status: Status) -> None:
    """A handler's status, a code or a status data set with an error comment."""
    if isinstance(status, Dataset):
        response.Status = int(status.Status)
        if "ErrorComment" in status:
            response.ErrorComment = status.ErrorComment
    else:
        response.Status = int(status)


def data_set_offset(data: bytes) -> int | None:
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


def _converted(path: Any, syntax: UID) -> bytes:
    """The object's data set re-encoded in ``syntax`` (uncompressed, or a lossless one)."""
    from pydicom import dcmread

    if str(syntax) in codecs.UNCOMPRESSED:
        dataset = codecs.decompressed(dcmread(path))
    else:
        target = codecs.Target(str(syntax))
        dataset = codecs.compressed(dcmread(path), target, lossy_source=True)
    data = encode(dataset, syntax.is_implicit_VR, syntax.is_little_endian)
    if data is None:
        raise ValueError(f"cannot encode {path} as {syntax.name}")
    return data


def tls_reason(exc: ssl.SSLError) -> str:
    """A failed handshake said briefly: "certificate verify failed: self-signed certificate"."""
    message = getattr(exc, "verify_message", None)
    reason = str(getattr(exc, "reason", None) or exc).replace("_", " ").lower()
    return f"{reason}: {message}" if message else reason
