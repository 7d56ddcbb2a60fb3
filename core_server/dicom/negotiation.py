"""Association set-up on the DICOM port (PS3.8 9.3.2-9.3.4): the A-ASSOCIATE-RQ read and
checked before any path serves it, what the direct path serves, and its accept/reject PDUs.

A connection gets the ARTIM time (``--dicom-artim-timeout``) to send its whole request: one
that sends nothing is closed (PS3.8 AA-2), one that sends something else, a request cut short,
a request declaring more than :data:`MAX_REQUEST` bytes or one that cannot be decoded gets an
A-ABORT and is closed (AA-1). A request without protocol version 1 is rejected
(A-ASSOCIATE-RJ, rejected-permanent, service-provider ACSE, protocol-version-not-supported).
The request is only peeked at: its bytes stay in the socket for whichever path serves it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import time
from typing import Any

from pydicom.uid import UID
from pynetdicom import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RJ, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    SCP_SCU_RoleSelectionNegotiation,
)
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import (
    ModalityWorklistInformationFind,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from core_server.dicom.link import ABORT_BY_USER, kernel_timeouts, send_abort

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
# The worklist's C-FIND too (the server sends it to pynetdicom when it has no RIS).
WORKLIST = str(ModalityWorklistInformationFind)
SERVED = STORAGE_CLASSES | RETRIEVE_MODELS | {str(Verification), WORKLIST}  # by the direct path
SYNTAXES = frozenset(str(s) for s in ALL_TRANSFER_SYNTAXES)
# User information items the direct path understands; any other (user identity, extended
# negotiation...) sends the association to pynetdicom.
_PLAIN_ITEMS = (
    MaximumLengthNotification,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    SCP_SCU_RoleSelectionNegotiation,
)
APPLICATION_CONTEXT = UID("1.2.840.10008.3.1.1.1")
MAX_REQUEST = 1 << 20  # an A-ASSOCIATE-RQ is a few kB; a user identity ticket a few more
_HEADER = 6


class Refused(Exception):
    """The connection was not a valid association request: answered and to be closed."""


def read_request(sock: socket.socket, artim: float) -> A_ASSOCIATE:
    """The A-ASSOCIATE-RQ waiting on ``sock``, peeked (left in the socket) within ``artim``
    seconds, checked as the module says. Raises :class:`Refused` after answering anything else
    (the caller closes the socket)."""
    deadline = time.monotonic() + artim
    header = _peek(sock, _HEADER, deadline)
    if header is None:
        raise Refused("nothing within the ARTIM timeout")  # AA-2: just close
    if header[0] != 0x01:
        _abort(sock, f"a PDU of type {header[0]:#04x} instead of an association request")
    length = struct.unpack(">I", header[2:6])[0]
    if length > MAX_REQUEST:
        _abort(sock, f"an association request declaring {length} bytes")
    data = _peek(sock, _HEADER + length, deadline)
    if data is None:
        _abort(sock, "an association request cut short")
    pdu = A_ASSOCIATE_RQ()
    try:
        pdu.decode(data)
        request = pdu.to_primitive()
    except Exception as exc:  # a malformed request: pynetdicom's decoders say why
        _abort(sock, f"an association request that cannot be decoded ({exc})")
    if not pdu.protocol_version & 1:
        reject(sock, source=0x02, reason=0x02)  # protocol-version-not-supported
        raise Refused(f"protocol version {pdu.protocol_version}")
    return request


def _peek(sock: socket.socket, size: int, deadline: float) -> bytes | None:
    """``size`` bytes from the socket, left in it, before ``deadline`` (None: not in time or
    the peer closed first). Blocking reads bounded by SO_RCVTIMEO: MSG_WAITALL waits for the
    whole request there (on a socket with Python's timeout it returns whatever is there)."""
    got = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        kernel_timeouts(sock, left)
        try:
            data = sock.recv(size, socket.MSG_PEEK | socket.MSG_WAITALL)
        except OSError:  # BlockingIOError: SO_RCVTIMEO ran out with nothing there
            return None
        if len(data) >= size:
            return data
        if not data:
            return None  # closed
        if len(data) == len(got):  # the peer closed after part of it: until the deadline
            time.sleep(0.01)
        got = data


def _abort(sock: socket.socket, why: str) -> Any:
    send_abort(sock, ABORT_BY_USER, 0x00)  # PS3.8 AA-1, in state Sta2
    raise Refused(why)


def serves(request: A_ASSOCIATE, elsewhere: frozenset[str]) -> bool:
    """Does this request ask for nothing but storage, verification and retrieval (and SOP
    classes no one here serves, which are rejected), with nothing else negotiated?
    ``elsewhere``: the abstract syntaxes pynetdicom serves and the direct path does not."""
    contexts = request.presentation_context_definition_list or []
    items = request.user_information or []
    syntaxes = {str(c.abstract_syntax) for c in contexts}
    return (
        bool(syntaxes & SERVED)
        and not syntaxes & elsewhere
        and all(isinstance(item, _PLAIN_ITEMS) for item in items)
    )


def reject(sock: socket.socket, *, source: int = 0x01, reason: int = 0x03) -> None:
    """An A-ASSOCIATE-RJ, rejected-permanent; by default from the service user: calling AE
    title not recognized."""
    rejection = A_ASSOCIATE()
    rejection.result, rejection.result_source, rejection.diagnostic = 0x01, source, reason
    pdu = A_ASSOCIATE_RJ()
    pdu.from_primitive(rejection)
    with contextlib.suppress(OSError):
        sock.sendall(pdu.encode())


def accept(
    sock: socket.socket, request: A_ASSOCIATE, max_pdu: int, implementation: tuple[str, str]
) -> tuple[dict[int, PresentationContext], dict[str, list[PresentationContext]]]:
    """Accept the request: every presentation context of a served SOP class in the
    requestor's first transfer syntax we support (so objects stay as the modality sent them),
    whatever roles it asks. The accepted contexts by id, and the storage contexts on which the
    requestor took the SCP role (where a C-GET sends), by SOP class."""
    roles = {
        str(item.sop_class_uid): item
        for item in request.user_information or []
        if isinstance(item, SCP_SCU_RoleSelectionNegotiation)
    }
    accepted: dict[int, PresentationContext] = {}
    sendable: dict[str, list[PresentationContext]] = {}
    results = []
    for proposed in request.presentation_context_definition_list:
        result = PresentationContext()
        result.context_id = proposed.context_id
        result.abstract_syntax = proposed.abstract_syntax
        chosen = [s for s in proposed.transfer_syntax if str(s) in SYNTAXES][:1]
        result.transfer_syntax = chosen or [proposed.transfer_syntax[0]]
        if str(proposed.abstract_syntax) not in SERVED:
            chosen, result.result = [], 0x03  # abstract syntax not supported
        else:
            result.result = 0x00 if chosen else 0x04
        results.append(result)
        if chosen:
            accepted[int(proposed.context_id)] = result
            role = roles.get(str(proposed.abstract_syntax))
            if role is not None and role.scp_role:
                sendable.setdefault(str(proposed.abstract_syntax), []).append(result)
    reply = A_ASSOCIATE()
    reply.application_context_name = request.application_context_name
    reply.calling_ae_title = request.calling_ae_title
    reply.called_ae_title = request.called_ae_title
    reply.result, reply.result_source = 0x00, 0x01
    reply.presentation_context_definition_results_list = results
    reply.user_information = user_information(max_pdu, implementation)
    for uid, proposed_role in roles.items():  # we take whatever roles the requestor asks
        role_reply = SCP_SCU_RoleSelectionNegotiation()
        role_reply.sop_class_uid = UID(uid)
        role_reply.scu_role = bool(proposed_role.scu_role)
        role_reply.scp_role = bool(proposed_role.scp_role)
        reply.user_information.append(role_reply)
    pdu = A_ASSOCIATE_AC()
    pdu.from_primitive(reply)
    sock.sendall(pdu.encode())
    return accepted, sendable


def user_information(max_pdu: int, implementation: tuple[str, str]) -> list[Any]:
    length = MaximumLengthNotification()
    length.maximum_length_received = max_pdu
    class_uid = ImplementationClassUIDNotification()
    class_uid.implementation_class_uid = UID(implementation[0])
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = implementation[1]
    return [length, class_uid, version]


def peer_max_pdu(items: list[Any] | None) -> int:
    for item in items or []:
        if isinstance(item, MaximumLengthNotification) and item.maximum_length_received:
            return int(item.maximum_length_received)
    return 1 << 20  # 0 or absent: no limit; keep PDUs reasonable all the same
