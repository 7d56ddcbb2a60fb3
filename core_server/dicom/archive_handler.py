"""The archive behind :class:`~core_server.dicom.handlers.AssociationHandler`: who may do what
(the modality registry, read once per association so a change applies to the next one without
a restart), storing, finding and retrieving.

Unregistered calling AEs may echo and store (a new modality works at once) unless strict mode
is on; query and retrieve need a registered AE with the right; C-MOVE sends only to registered
AEs. A different object under an archived SOP Instance UID replaces it only when the sender is
registered with the overwrite permission (``allow_overwrite``), and every replacement is in
the audit trail.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Iterator
from typing import Any

from pydicom import Dataset
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from core_server import auth, tls
from core_server.archive import (
    Archive,
    Incoming,
    InstanceFile,
    InvalidObject,
    Origin,
    ReplaceRefused,
    Stored,
    Verdict,
)
from core_server.dicom import commitment, find, mpps, worklist
from core_server.dicom.answers import Answer
from core_server.dicom.auditing import DicomAudit
from core_server.dicom.handlers import (
    CANNOT_UNDERSTAND,
    MOVE_DESTINATION_UNKNOWN,
    NONE_DONE,
    NOT_AUTHORIZED,
    OUT_OF_RESOURCES,
    PROCESSING_FAILURE,
    SUCCESS,
    UID_CONFLICT,
    Destination,
    Status,
    status,
)
from core_server.modalities import Modality, get_modality
from core_server.refusals import Refusal
from core_server.ris import Ris
from core_server.tls import Files

log = logging.getLogger(__name__)
MODALITY_WORKLIST_FIND = "1.2.840.10008.5.1.4.31"
REPLACED = "archive.instance_replaced"  # the audit action of a replacement by C-STORE
# Errors of the machine, not of the object: the disk or the database is full or failing.
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class ArchiveHandlers:
    """The :class:`~core_server.dicom.handlers.HandlerFactory` of the archive."""

    def __init__(
        self,
        archive: Archive,
        engine: Engine,
        *,
        ae_title: str,
        strict: bool = False,
        ris: Ris | None = None,
        tls_files: Files | None = None,
    ) -> None:
        self.archive = archive
        self.engine = engine
        self.ae_title = ae_title
        self.strict = strict
        self.ris = ris  # serves the Modality Worklist when given
        self.tls_files = tls_files  # C-MOVE destinations marked tls are reached over TLS
        self.audit = DicomAudit(engine)

    def node_refused(self, address: str, reason: str) -> None:
        """A TLS handshake on the DICOM TLS port failed: a security alert in the trail."""
        self.audit.node_refused(address, reason, "dicom-tls")

    def __call__(self, calling_ae_title: str, address: str) -> ArchiveHandler:
        return ArchiveHandler(self, calling_ae_title.strip(), address)


class ArchiveHandler:
    """One association's answers; its peer is looked up once, when it is requested."""

    def __init__(self, handlers: ArchiveHandlers, calling: str, address: str) -> None:
        self.handlers = handlers
        self.archive = handlers.archive
        self.calling = calling
        self.address = address
        self.peer: Modality | None = get_modality(handlers.engine, calling)

    def admitted(self) -> bool:
        if self.peer is None and self.handlers.strict:
            log.warning("association from unregistered AE %s rejected", self.calling)
            return False
        return True

    def permits(self, action: str) -> bool:
        """May the peer echo, store, query or retrieve? Refusals are logged."""
        if self.peer is None:
            allowed = action in ("echo", "store") and not self.handlers.strict
        else:
            allowed = action == "echo" or bool(getattr(self.peer, f"allow_{action}"))
        if not allowed:
            why = "not registered" if self.peer is None else "not permitted"
            log.warning("refused %s from %s (%s)", action, self.calling, why)
        return allowed

    def echo(self) -> Status:
        return SUCCESS if self.permits("echo") else NOT_AUTHORIZED

    def store(self, incoming: Incoming) -> Status:
        if not self.permits("store"):
            incoming.discard()
            return status(NOT_AUTHORIZED, "calling AE title may not store here")
        may_replace = bool(self.peer and self.peer.allow_overwrite)
        origin = Origin("dimse", self.calling, self.address, may_replace=may_replace)
        try:
            stored = self.archive.store_file(incoming, origin)
        except BaseException as exc:
            incoming.discard()  # store_file removed it already, unless it never got there
            if isinstance(exc, Exception):
                return self._refusal(exc)
            raise
        if stored.outcome == "replaced":
            self._audit_replacement(stored)
        return SUCCESS

    def _refusal(self, exc: Exception) -> Status:
        """The C-STORE status for an object the archive did not take."""
        if isinstance(exc, InvalidObject):
            log.warning("C-STORE from %s refused: %s", self.calling, exc)
            return status(CANNOT_UNDERSTAND, str(exc))
        if isinstance(exc, ReplaceRefused):
            return status(UID_CONFLICT, "another object has this SOP Instance UID")
        if isinstance(exc, OSError | DBAPIError):
            log.error("C-STORE from %s: no room to store it: %s", self.calling, exc)
            full = isinstance(exc, OSError) and exc.errno in _NO_ROOM
            return status(OUT_OF_RESOURCES, "storage full" if full else f"storage failed: {exc}")
        log.exception("C-STORE from %s failed", self.calling)
        return status(PROCESSING_FAILURE, f"archive could not store the object: {exc}")

    def _audit_replacement(self, stored: Stored) -> None:
        try:
            auth.record_audit(
                self.handlers.engine,
                username=None,
                action=REPLACED,
                target=f"study:{stored.study_instance_uid}",
                detail={
                    "sop_instance_uid": stored.sop_instance_uid,
                    "series_instance_uid": stored.series_instance_uid,
                    "ae_title": self.calling,
                },
                address=self.address,
            )
        except Exception:  # the object is stored (and its older version kept) all the same
            log.exception("replacement of %s not audited", stored.sop_instance_uid)

    def find(
        self, sop_class_uid: str, identifier: Dataset, cancelled: Callable[[], bool]
    ) -> Iterator[tuple[Status, Answer | Dataset | None]]:
        if not self.permits("query"):
            yield status(NOT_AUTHORIZED, "calling AE title may not query"), None
            return
        try:
            ris = self.handlers.ris
            if sop_class_uid == MODALITY_WORKLIST_FIND and ris is not None:
                ascii_only = bool(self.peer and self.peer.ascii_only)
                yield from worklist.find(
                    ris, identifier, ascii_only=ascii_only, cancelled=cancelled
                )
                return
            yield from find.find(self.archive, self.handlers.ae_title, identifier, cancelled)
        finally:
            # One audit entry per request, not per answer; repeats coalesced (DicomAudit).
            # Written once the last answer is out (also after a cancel or a broken
            # association), so the requestor does not wait for it.
            self.handlers.audit.query(self.calling, self.address, sop_class_uid, identifier)

    def retrieve(self, identifier: Dataset) -> list[InstanceFile] | Status:
        if not self.permits("retrieve"):
            return status(NOT_AUTHORIZED, "calling AE title may not retrieve")
        try:
            return self.archive.locate(find.query_keys(identifier), retrieve=True)
        except Refusal as e:  # not online and not recallable now: "Offline: insert set X"
            log.warning("retrieve by %s refused: %s", self.calling, e)
            return status(NONE_DONE, e.text("en"))

    def destination(self, move_destination: str) -> Destination | Status:
        """Where a C-MOVE goes: (host, port, TLS context or None for a clear association)."""
        target = get_modality(self.handlers.engine, move_destination)
        if target is None:
            log.warning("C-MOVE to unknown destination %r", move_destination)
            return MOVE_DESTINATION_UNKNOWN
        files = self.handlers.tls_files
        if target.tls and files is None:
            log.warning("C-MOVE destination %s wants TLS; no TLS settings", move_destination)
            return MOVE_DESTINATION_UNKNOWN
        context = tls.outgoing(files, dicom=True) if target.tls and files is not None else None
        return target.host, target.port, context

    def transferred(
        self, files: list[InstanceFile], destination: str, operation: str, failed: set[str]
    ) -> None:
        """The instances a C-MOVE or C-GET request sent out: one audit entry per study."""
        self.handlers.audit.sent(self.calling, self.address, files, destination, operation, failed)

    def tls_refused(self, destination: str, address: str, reason: str) -> None:
        """Our handshake with a C-MOVE destination failed (its certificate not trusted)."""
        self.handlers.audit.node_refused(address, reason, f"C-MOVE to {destination}")

    # -- pynetdicom's path only --------------------------------------------------------------

    def commit(
        self, action_type: int, information: Dataset | None
    ) -> tuple[Status, tuple[str, Verdict] | None]:
        return commitment.check(self.archive, action_type, information)

    def mpps_create(self, sop_instance_uid: str, attributes: Dataset) -> tuple[Status, Any]:
        ris = self.handlers.ris
        if ris is None or self.peer is None:  # only registered modalities may move exams
            return NOT_AUTHORIZED, None
        return mpps.create(ris, sop_instance_uid, attributes, self.calling)

    def mpps_set(self, sop_instance_uid: str, modifications: Dataset) -> tuple[Status, Any]:
        ris = self.handlers.ris
        if ris is None or self.peer is None:
            return NOT_AUTHORIZED, None
        return mpps.set_(ris, sop_instance_uid, modifications, self.calling)

    def commitment_report(self, information: Dataset | None) -> Status:
        """Handed to forwarding, which matches it by its Transaction UID (in this process or
        through the database: a DICOM worker process has no forwarding of its own)."""
        from core_server.storage.forwarding.dicom_sender import read_report
        from core_server.storage.forwarding.service import take_report

        if information is None or "TransactionUID" not in information:
            return PROCESSING_FAILURE
        take_report(self.archive.engine, self.archive.bus, read_report(information))
        return SUCCESS
