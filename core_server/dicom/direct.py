"""A direct path for associations that store, echo, query or retrieve (C-FIND, C-GET, C-MOVE):
modalities sending images, workstations and viewers finding and fetching them.

pynetdicom serves each association with two threads that poll each other and their socket,
sleeping a millisecond whenever a turn finds nothing to do, and spends about 2 ms of CPU and
3.4 ms of wall time per 512 kB C-STORE before any handler runs (profile in the README). For an
association whose every presentation context is a storage SOP class, a query/retrieve model or
Verification, this module reads the socket itself on one blocking thread: PDUs and DIMSE
messages are still decoded and encoded by pynetdicom's own classes where nothing faster is
written (:mod:`~core_server.dicom.commands`, :mod:`~core_server.dicom.answers`), data set
fragments go straight into the object's incoming file (:mod:`~core_server.dicom.link`), and
retrieves send the stored bytes (:mod:`~core_server.dicom.sending`). What to answer is asked of
the association's :class:`~core_server.dicom.handlers.AssociationHandler`, as pynetdicom's
path does. Anything else (storage commitment, user identity, extended negotiation) is left to
pynetdicom; ``--no-dicom-direct-path`` leaves it everything.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from pydicom import Dataset
from pynetdicom.dimse_messages import C_ECHO_RSP, C_FIND_RSP, C_STORE_RSP
from pynetdicom.dimse_primitives import C_ECHO, C_FIND, C_STORE
from pynetdicom.dsutils import encode
from pynetdicom.pdu_primitives import A_ASSOCIATE

from core_server.archive import Incoming
from core_server.dicom import answers, commands, negotiation
from core_server.dicom.answer_pdus import AnswerPdus
from core_server.dicom.handlers import (
    OUT_OF_RESOURCES,
    PENDING,
    SUCCESS,
    AssociationHandler,
    status,
)
from core_server.dicom.link import (
    C_CANCEL_RQ,
    C_ECHO_RQ,
    C_FIND_RQ,
    C_GET_RQ,
    C_MOVE_RQ,
    C_STORE_RQ,
    Link,
    Message,
    kernel_timeouts,
)
from core_server.dicom.sending import Retrieval, set_status


class DirectAssociation:
    """One requested association on the direct path, served on the calling thread."""

    def __init__(
        self,
        sock: socket.socket,
        request: A_ASSOCIATE,
        handler: AssociationHandler,
        *,
        ae_title: str,
        max_pdu: int,
        timeout: float,
        incoming: Callable[[], Incoming],
        implementation: tuple[str, str],
    ) -> None:
        self.handler = handler
        self.calling = handler.calling
        self.link = Link(sock, max_pdu, incoming, source_ae=self.calling)
        self.request = request
        self.timeout = timeout
        self.implementation = implementation
        self.retrieval = Retrieval(
            self.link,
            ae_title=ae_title,
            timeout=timeout,
            implementation=implementation,
            cancelled=self._cancelled,
            sendable={},
        )

    def serve(self) -> None:
        sock = self.link.sock
        kernel_timeouts(sock, self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.link.read_pdu()  # the A-ASSOCIATE-RQ, already decoded when peeked
        if not self.handler.admitted():
            negotiation.reject(sock)
            return
        self.link.peer_max_pdu = negotiation.peer_max_pdu(self.request.user_information)
        self.link.accepted, self.retrieval.sendable = negotiation.accept(
            sock, self.request, self.link.max_pdu, self.implementation
        )
        try:
            while (message := self.link.next_message()) is not None:
                self._answer(message)
                if message.field == C_STORE_RQ:
                    self.link.prepare()
        finally:
            self.link.drop_spare()

    def _answer(self, message: Message) -> None:
        field = message.field
        if field == C_STORE_RQ:
            self._store(message)
        elif field == C_FIND_RQ:
            self._query(message)
        elif field in (C_GET_RQ, C_MOVE_RQ):
            self.retrieval.serve(message, self.handler)
        elif field == C_ECHO_RQ:
            response = C_ECHO()
            response.AffectedSOPClassUID = message.command.AffectedSOPClassUID
            response.MessageIDBeingRespondedTo = message.message_id
            set_status(response, self.handler.echo())
            self.link.send(C_ECHO_RSP(), response, message.context_id)
        elif field != C_CANCEL_RQ:  # (a C-CANCEL with nothing under way: nothing to do)
            # nothing else can come on a context we accepted; refuse it all the same
            self.link.abort()
            raise ConnectionAbortedError(f"unexpected DIMSE command {field:#06x}")

    def _store(self, message: Message) -> None:
        if message.incoming is None:  # its file could not be written: a full disk
            found: Any = status(OUT_OF_RESOURCES, f"storage full: {message.failure}")
        else:
            incoming, message.incoming = message.incoming, None
            found = self.handler.store(incoming)  # the handler owns the file now
        if found == SUCCESS and message.fields is not None:
            # the common answer, encoded by hand (pynetdicom's encoder cost 0.3 ms)
            encoded = commands.store_success(
                message.message_id, message.sop_class_uid, message.sop_instance_uid
            )
            self.link.send_encoded(message.context_id, encoded, b"")
            return
        response = C_STORE()
        response.AffectedSOPClassUID = message.command.AffectedSOPClassUID
        response.AffectedSOPInstanceUID = message.command.AffectedSOPInstanceUID
        response.MessageIDBeingRespondedTo = message.message_id
        set_status(response, found)
        self.link.send(C_STORE_RSP(), response, message.context_id)

    def _query(self, message: Message) -> None:
        context_id = message.context_id
        syntax = self.link.accepted[context_id].transfer_syntax[0]
        identifier = message.identifier(syntax)
        sop_class = str(self.link.accepted[context_id].abstract_syntax)
        message_id = message.message_id
        pending: bytes | None = None  # every pending response has the same command set
        batch = AnswerPdus(
            self.link.sock,
            context_id,
            self.link.peer_max_pdu,
            lambda command, data: self.link.send_encoded(context_id, command, data),
        )
        for found, answer in self.handler.find(sop_class, identifier, self._cancelled):
            data = None
            if isinstance(answer, answers.Answer):
                if syntax.is_little_endian and not syntax.is_deflated:
                    data = answers.encode(answer, syntax.is_implicit_VR)
                answer = answer.dataset() if data is None else None
            if isinstance(answer, Dataset):
                data = encode(answer, syntax.is_implicit_VR, syntax.is_little_endian)
            if isinstance(found, int):
                if found == PENDING and data and pending is not None:
                    command = pending
                else:
                    command = commands.find_response(sop_class, message_id, found, bool(data))
                    if found == PENDING and data:
                        pending = command
                batch.add(command, data or b"")
                if found != PENDING:
                    batch.flush()  # the final status: everything goes now
                continue
            batch.flush()
            response = C_FIND()  # a status with an error comment
            response.MessageIDBeingRespondedTo = message_id
            response.AffectedSOPClassUID = self.link.accepted[context_id].abstract_syntax
            set_status(response, found)
            self.link.send(C_FIND_RSP(), response, context_id)
        batch.flush()

    def _cancelled(self) -> bool:
        """Has the requestor sent a C-CANCEL (read between answers)?"""
        if not self.link.readable():
            return False
        message = self.link.next_message()
        return message is None or message.field == C_CANCEL_RQ
