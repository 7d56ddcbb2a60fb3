"""pynetdicom's path: associations the direct path does not serve (storage commitment, the
Modality Worklist, MPPS, user identity or extended negotiation; all of them with
``--no-dicom-direct-path``) are served by pynetdicom's own association threads, answering
through the same :class:`~core_server.dicom.handlers.AssociationHandler` as the direct path.

The listener (:mod:`~core_server.dicom.listener`) accepts the connection and checks the request;
the socket is then handed to a pynetdicom association server that never binds a port of its
own (:class:`_HandOff`), through socketserver's ``process_request``. pynetdicom receives a
C-STORE's data set in memory (its default) and the handler writes it, behind its file meta,
to an incoming file, as the direct path does with its fragments.
"""

from __future__ import annotations

import copy
import logging
import socket
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from pydicom import Dataset
from pynetdicom import AE, _config, build_context, evt
from pynetdicom.association import Association
from pynetdicom.transport import ThreadedAssociationServer

from core_server import metrics
from core_server.archive import Incoming, InstanceFile
from core_server.dicom import commands
from core_server.dicom.answers import Answer
from core_server.dicom.commitment import Reporter, nodelay
from core_server.dicom.handlers import (
    CANCEL,
    OUT_OF_RESOURCES,
    PENDING,
    HandlerFactory,
    Status,
    ThreadedHandler,
    status,
)
from core_server.dicom.print_handlers import PrintService, is_print
from core_server.storage.compression import codecs

log = logging.getLogger(__name__)


class ThreadedPath:
    """pynetdicom serving handed-over connections for ``ae``."""

    def __init__(
        self,
        ae: AE,
        factory: HandlerFactory,
        incoming: Callable[[], Incoming],
        reporter: Reporter,
        address: tuple[str, int],
        printing: PrintService | None = None,
    ) -> None:
        self.ae = ae
        self.printing = printing
        self.factory = factory
        self.incoming = incoming
        self.reporter = reporter
        self._waiting: weakref.WeakKeyDictionary[socket.socket, ThreadedHandler] = (
            weakref.WeakKeyDictionary()
        )
        self._handlers: weakref.WeakKeyDictionary[Association, ThreadedHandler] = (
            weakref.WeakKeyDictionary()
        )
        self._counted: weakref.WeakSet[Association] = weakref.WeakSet()
        quiet_identifier_logs()
        self.server = ae.make_server(
            address,
            evt_handlers=self._events(),
            contexts=_CheaplyCopiedContexts(ae.supported_contexts),
            server_class=_HandOff,
        )

    def serve(self, sock: socket.socket, address: tuple[str, int], handler: Any) -> None:
        """Hand an accepted connection, its request still in the socket, to pynetdicom."""
        self._waiting[sock] = handler
        self.server.process_request(sock, address)

    def close(self) -> None:
        self.server.server_close()

    def _events(self) -> list[Any]:
        return [
            (evt.EVT_CONN_OPEN, self._opened),
            (evt.EVT_REQUESTED, _prefer_requestor_order),
            (evt.EVT_C_ECHO, lambda event: self._handler(event).echo()),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_GET, self._on_get),
            (evt.EVT_C_MOVE, self._on_move),
            (evt.EVT_N_ACTION, self._printing_or(self._on_commitment, "RequestedSOPClassUID")),
            (evt.EVT_N_CREATE, self._printing_or(self._on_mpps_create, "AffectedSOPClassUID")),
            (evt.EVT_N_SET, self._printing_or(self._on_mpps_set, "RequestedSOPClassUID")),
            (evt.EVT_N_GET, self._printing_or(None, "RequestedSOPClassUID")),
            (evt.EVT_N_DELETE, self._printing_or(None, "RequestedSOPClassUID")),
            (evt.EVT_N_EVENT_REPORT, self._on_event_report),
            (evt.EVT_CONN_CLOSE, self._closed),
        ]

    def _opened(self, event: evt.Event) -> None:
        nodelay(event)
        sock = event.assoc.dul.socket.socket if event.assoc.dul.socket else None
        handler = self._waiting.pop(sock, None) if sock is not None else None
        if handler is not None:
            self._handlers[event.assoc] = handler
            self._counted.add(event.assoc)
            metrics.association_opened("pynetdicom")

    def _closed(self, event: evt.Event) -> None:
        if event.assoc in self._counted:  # one the listener handed over (counted above)
            self._counted.discard(event.assoc)
            metrics.association_closed()

    def _handler(self, event: evt.Event) -> ThreadedHandler:
        found = self._handlers.get(event.assoc)
        if found is None:  # not handed over by the listener (cannot happen): ask afresh
            requestor = event.assoc.requestor
            found = self.factory(requestor.ae_title, requestor.address)
            self._handlers[event.assoc] = found
        return found

    def _on_store(self, event: evt.Event) -> Status:
        handler = self._handler(event)
        request = event.request
        try:
            incoming = self.incoming()
        except OSError as exc:
            return status(OUT_OF_RESOURCES, f"storage full: {exc}")
        try:
            incoming.write(
                commands.file_meta(
                    str(request.AffectedSOPClassUID),
                    str(request.AffectedSOPInstanceUID),
                    str(event.context.transfer_syntax),
                    handler.calling,
                )
            )
            incoming.write(request.DataSet.getbuffer())
        except OSError as exc:  # the file is gone already
            return status(OUT_OF_RESOURCES, f"storage full: {exc}")
        return handler.store(incoming)

    def _on_find(self, event: evt.Event) -> Iterator[tuple[Status, Dataset | None]]:
        sop_class = str(event.request.AffectedSOPClassUID)
        found = self._handler(event).find(
            sop_class, event.identifier, lambda: bool(event.is_cancelled)
        )
        for code, answer in found:
            yield code, answer.dataset() if isinstance(answer, Answer) else answer

    def _on_get(self, event: evt.Event) -> Iterator[Any]:
        found = self._handler(event).retrieve(event.identifier)
        if not isinstance(found, list):
            # pynetdicom answers Success, without reading further, when the handler announces
            # no sub-operations: announce one, so that the refusal is what goes out.
            yield 1
            yield found, None
            return
        accepted: dict[str, set[str]] = {}
        for context in event.assoc.accepted_contexts:
            accepted.setdefault(context.abstract_syntax, set()).add(context.transfer_syntax[0])
        yield len(found)
        yield from _send(event, found, lambda: accepted)
        self._handler(event).transferred(found, self._handler(event).calling, "C-GET", set())

    def _on_move(self, event: evt.Event) -> Iterator[Any]:
        handler = self._handler(event)
        found = handler.retrieve(event.identifier)
        where = handler.destination(str(event.move_destination or "").strip())
        if not isinstance(found, list) or not isinstance(where, tuple):
            yield None, None  # answered with 0xA801: pynetdicom has no other refusal here
            return
        accepted: dict[str, set[str]] = {}

        def remember(accept_event: evt.Event) -> None:
            for context in accept_event.assoc.accepted_contexts:
                accepted.setdefault(context.abstract_syntax, set()).add(context.transfer_syntax[0])

        destination = str(event.move_destination).strip()
        options: dict[str, Any] = {
            "ae_title": destination,
            "contexts": [build_context(u, s) for u, s in codecs.proposals(found).items()],
            "evt_handlers": [(evt.EVT_CONN_OPEN, nodelay), (evt.EVT_ACCEPTED, remember)],
            "max_pdu": self.ae.maximum_pdu_size,
        }
        if where[2] is not None:  # a destination marked tls (pynetdicom does the handshake)
            options["tls_args"] = (where[2], None)
        yield where[0], where[1], options
        yield len(found)
        yield from _send(event, found, lambda: accepted)
        # pynetdicom counts the sub-operations' statuses itself: all are named as sent.
        handler.transferred(found, destination, "C-MOVE", set())

    def _printing_or(self, other: Callable[[evt.Event], Any] | None, key: str) -> Any:
        """Route an N-service request by its SOP class: Print Management to the print
        service, anything else to ``other`` (no such SOP class 0x0118 when there is none)."""

        def route(event: evt.Event) -> Any:
            if self.printing is not None and is_print(getattr(event.request, key, None)):
                return self.printing.handle(event, self._handler(event))
            if other is not None:
                return other(event)
            return 0x0118 if event.event == evt.EVT_N_DELETE else (0x0118, None)

        return route

    def _on_commitment(self, event: evt.Event) -> tuple[Status, None]:
        handler = self._handler(event)
        try:
            information = event.action_information
        except Exception:  # an N-ACTION whose information cannot be decoded
            information = None
        found, accepted = handler.commit(event.action_type, information)
        if accepted is not None:
            self.reporter.deliver_later(event.assoc, handler.calling, *accepted)
        return found, None

    def _on_event_report(self, event: evt.Event) -> tuple[Status, None]:
        try:
            information = event.event_information
        except Exception:  # a report whose information cannot be decoded
            information = None
        return self._handler(event).commitment_report(information), None

    def _on_mpps_create(self, event: evt.Event) -> tuple[Status, Any]:
        uid = str(event.request.AffectedSOPInstanceUID or "")
        return self._handler(event).mpps_create(uid, event.attribute_list)

    def _on_mpps_set(self, event: evt.Event) -> tuple[Status, Any]:
        uid = str(event.request.RequestedSOPInstanceUID or "")
        return self._handler(event).mpps_set(uid, event.modification_list)


class _HandOff(ThreadedAssociationServer):
    """pynetdicom's association server for connections the listener hands it: it binds and
    listens on nothing (socketserver's own hooks), the listener owns the port."""

    def server_bind(self) -> None:
        pass

    def server_activate(self) -> None:
        self.socket.close()  # the unbound socket socketserver made; never used


def quiet_identifier_logs() -> None:
    """pynetdicom formats every query identifier and answer for its INFO log whatever the log
    level (most of a C-FIND's CPU time); these two documented options of its configuration
    module turn that off. Our own log says what was asked."""
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False


class _CheaplyCopiedContexts(list):  # type: ignore[type-arg]
    """pynetdicom deep-copies the supported presentation contexts for every association: 80 ms
    for our 178 contexts of 45 transfer syntaxes each, spent before every association. This list
    copies them in well under a millisecond, sharing the immutable UIDs."""

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        copies = []
        for context in self:
            twin = copy.copy(context)
            for name, value in vars(context).items():
                if isinstance(value, list | dict):
                    setattr(twin, name, copy.copy(value))
            copies.append(twin)
        return copies


def _prefer_requestor_order(event: evt.Event) -> None:
    """Accept, in each presentation context, the transfer syntax the requestor proposed first
    among those we support.

    pynetdicom picks the acceptor's first supported syntax that was proposed; ours start with
    Implicit VR Little Endian, so a storescu offering [Explicit, Implicit] would be made to
    convert to implicit VR (private elements lose their VR), and a C-GET requestor offering
    [JPEG 2000, Explicit, Implicit] would get a stored JPEG 2000 object decompressed.
    """
    primitive = event.assoc.requestor.primitive
    proposed: dict[str, list[str]] = {}
    for context in primitive.presentation_context_definition_list or []:
        syntaxes = proposed.setdefault(str(context.abstract_syntax), [])
        syntaxes.extend(s for s in context.transfer_syntax if s not in syntaxes)
    for context in event.assoc.acceptor.supported_contexts:
        wanted = proposed.get(str(context.abstract_syntax))
        if wanted:
            # Negotiation only looks at proposed syntaxes, so ours can be cut down to those,
            # in the requestor's order (short lists keep this cheap: no 45-syntax rebuilds).
            ours = set(context.transfer_syntax)
            common = [s for s in wanted if s in ours]
            if common:
                context.transfer_syntax = common


def _send(
    event: evt.Event, files: list[InstanceFile], accepted: Callable[[], dict[str, set[str]]]
) -> Iterator[tuple[int, Any]]:
    for f in files:
        if event.is_cancelled:
            yield CANCEL, None
            return
        try:
            yield PENDING, _dataset_for(f, accepted().get(f.sop_class_uid, set()))
        except Exception:
            log.exception("cannot send %s from %s", f.sop_instance_uid, f.path)
            # pynetdicom counts a pending answer without a Dataset as a failed sub-operation
            yield PENDING, "unreadable"


def _dataset_for(f: InstanceFile, accepted: set[str]) -> Dataset:
    return codecs.for_receiver(f.path, f.transfer_syntax_uid, {str(s) for s in accepted})
