"""The archive's DICOM application entity: verification, storage, query/retrieve (Patient and
Study Root FIND, GET, MOVE), storage commitment (push model), and with the RIS the Modality
Worklist and MPPS.

Composition: the listener (:mod:`~core_server.dicom.listener`) owns the port and checks each
association request; the archive's handler for it (:mod:`~core_server.dicom.archive_handler`)
decides who may do what; the request is served by the direct path
(:mod:`~core_server.dicom.direct`) when it asks only for what that path serves and the setting
``dicom_direct_path`` is on, else by pynetdicom (:mod:`~core_server.dicom.threaded`).
"""

from __future__ import annotations

import logging
import socket
import ssl
from typing import Any

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
from pynetdicom.pdu_primitives import A_ASSOCIATE
from pynetdicom.sop_class import (
    ModalityPerformedProcedureStep,
    ModalityWorklistInformationFind,
    StorageCommitmentPushModel,
    Verification,
)
from sqlalchemy import Engine

from core_server import metrics
from core_server.archive import Archive
from core_server.dicom import direct, negotiation
from core_server.dicom.archive_handler import ArchiveHandlers
from core_server.dicom.commitment import Reporter
from core_server.dicom.listener import Listener
from core_server.dicom.print_handlers import PrintService, add_contexts
from core_server.dicom.threaded import ThreadedPath
from core_server.ris import Ris
from core_server.tls import Files

log = logging.getLogger(__name__)


class DicomServer:
    def __init__(
        self,
        archive: Archive,
        engine: Engine,
        *,
        ae_title: str,
        host: str,
        port: int,
        strict: bool = False,
        max_pdu: int = 1048576,
        timeout: float = 60.0,
        artim: float = 30.0,
        direct_path: bool = True,
        share_port: bool = False,
        ris: Ris | None = None,
        film_dpi: int | None = None,
        tls: ssl.SSLContext | None = None,
        tls_port: int = 2762,
        cleartext: bool = True,
        tls_files: Files | None = None,
    ) -> None:
        self.archive = archive
        self.engine = engine
        self.ae_title = ae_title
        self.host = host
        self.port = port
        self.direct_path = direct_path
        self.tls_files = tls_files  # for the associations we open to peers marked tls
        self.handlers = ArchiveHandlers(
            archive, engine, ae_title=ae_title, strict=strict, ris=ris, tls_files=tls_files
        )
        self.ae = _build_ae(ae_title, max_pdu, timeout, worklist=ris is not None)
        # The Print SCP (docs/film.md), on pynetdicom's path; film_dpi None: none.
        self.printing = None if film_dpi is None else PrintService(archive, ris, dpi=film_dpi)
        if self.printing is not None:
            add_contexts(self.ae)
        # Abstract syntaxes only pynetdicom serves: a request proposing one goes there whole
        # (the worklist with no RIS: pynetdicom rejects its context, as it always did).
        self.elsewhere = (
            frozenset(str(c.abstract_syntax) for c in self.ae.supported_contexts)
            - negotiation.SERVED
        ) | (frozenset() if ris is not None else frozenset({negotiation.WORKLIST}))
        self.listener = Listener(host, port, self._route, artim=artim, share_port=share_port)
        # The DICOM TLS port (docs/tls.md): the same routes behind a handshake; cleartext off
        # leaves it alone.
        self.tls_listener = (
            None
            if tls is None
            else Listener(
                host,
                tls_port,
                self._route,
                artim=artim,
                share_port=share_port,
                tls=tls,
                refused=self.handlers.node_refused,
            )
        )
        self.listeners = [self.listener] if cleartext or tls is None else []
        if self.tls_listener is not None:
            self.listeners.append(self.tls_listener)
        self.threaded: ThreadedPath | None = None

    def start(self) -> None:
        self.reporter = Reporter(self.engine, self.ae_title, self.tls_files)
        self.reporter.start()  # reports owed, whichever node was asked (docs/cluster-state.md)
        self.threaded = ThreadedPath(
            self.ae,
            self.handlers,
            self.archive.incoming,
            self.reporter,
            (self.host, self.port),
            self.printing,
        )
        for listener in self.listeners:
            listener.start()
            log.info(
                "DICOM %s listening on %s:%s%s",
                self.ae_title,
                self.host,
                listener.port,
                " (TLS)" if listener.tls else "",
            )
        self.port = self.listener.port

    @property
    def tls_port(self) -> int | None:
        return None if self.tls_listener is None else self.tls_listener.port

    def stop(self) -> None:
        for listener in self.listeners:
            listener.stop()
        if self.threaded is not None:
            self.threaded.close()
            self.threaded = None
            self.reporter.stop()

    @property
    def running(self) -> bool:
        return all(listener.running for listener in self.listeners)

    def _route(self, sock: socket.socket, address: tuple[str, int], request: A_ASSOCIATE) -> bool:
        """Serve a checked request; True when pynetdicom took the socket over."""
        handler = self.handlers(request.calling_ae_title, address[0])
        if not handler.admitted():
            negotiation.reject(sock)  # calling AE title not recognized
            return False
        if self.direct_path and negotiation.serves(request, self.elsewhere):
            with metrics.association("direct"):
                direct.DirectAssociation(
                    sock,
                    request,
                    handler,
                    ae_title=self.ae_title,
                    max_pdu=self.ae.maximum_pdu_size,
                    timeout=self.ae.network_timeout or 60.0,
                    incoming=self.archive.incoming,
                    implementation=(
                        self.ae.implementation_class_uid,
                        self.ae.implementation_version_name,
                    ),
                ).serve()
            return False
        assert self.threaded is not None, "started"
        self.threaded.serve(sock, address, handler)
        return True


def _build_ae(ae_title: str, max_pdu: int, timeout: float, *, worklist: bool) -> Any:
    ae = AE(ae_title=ae_title)
    ae.maximum_pdu_size = max_pdu
    ae.network_timeout = timeout
    ae.dimse_timeout = timeout
    ae.acse_timeout = timeout
    ae.maximum_associations = 64
    ae.add_supported_context(Verification)
    # Every storage SOP class in every transfer syntax; the roles let a C-GET requestor
    # act as the storage SCP on the same association.
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(
            context.abstract_syntax, ALL_TRANSFER_SYNTAXES, scu_role=True, scp_role=True
        )
    for model in sorted(negotiation.RETRIEVE_MODELS):  # C-FIND, C-GET, C-MOVE, both roots
        ae.add_supported_context(model)
    ae.add_supported_context(StorageCommitmentPushModel)
    if worklist:
        # The worklist's C-FIND is served by both paths; MPPS only by pynetdicom's (an
        # association proposing it goes there).
        ae.add_supported_context(ModalityWorklistInformationFind)
        ae.add_supported_context(ModalityPerformedProcedureStep)
    return ae
