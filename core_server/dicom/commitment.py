"""Storage Commitment Push Model SCP (PS3.4 J): the N-ACTION request checked and answered, the
archive's verdict, and its N-EVENT-REPORT delivered.

The report goes on the same association while the requestor keeps it open, else on a new
association to the requestor's registered host and port (three attempts with backoff).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from pydicom import Dataset
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import StorageCommitmentPushModel
from sqlalchemy import Engine

from core_server import tls
from core_server.archive import Archive, Reference, Verdict
from core_server.dicom.handlers import SUCCESS, Status, status
from core_server.modalities import get_modality
from core_server.tls import Files

log = logging.getLogger(__name__)
STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"
NO_SUCH_ACTION = 0x0123
MISSING_ATTRIBUTE = 0x0120
MISSING_ATTRIBUTE_VALUE = 0x0121


def check(
    archive: Archive, action_type: int, info: Dataset | None
) -> tuple[Status, tuple[str, Verdict] | None]:
    """The N-ACTION's status and, when it is accepted, its Transaction UID and the archive's
    verdict, for the report. A request without its Transaction UID or references is refused
    with 0x0120 (missing attribute), or 0x0121 when the UID is empty (PS3.7 C.4)."""
    if action_type != 1:
        return NO_SUCH_ACTION, None
    if info is None or "TransactionUID" not in info:
        return status(MISSING_ATTRIBUTE, "Transaction UID (0008,1195) is missing"), None
    if "ReferencedSOPSequence" not in info:
        return status(MISSING_ATTRIBUTE, "Referenced SOP Sequence (0008,1199) is missing"), None
    transaction = str(info.TransactionUID or "")
    if not transaction:
        return status(MISSING_ATTRIBUTE_VALUE, "Transaction UID (0008,1195) is empty"), None
    references = []
    for item in info.ReferencedSOPSequence:
        if not item.get("ReferencedSOPClassUID") or not item.get("ReferencedSOPInstanceUID"):
            return status(MISSING_ATTRIBUTE, "a referenced SOP without its UIDs"), None
        references.append(
            Reference(str(item.ReferencedSOPClassUID), str(item.ReferencedSOPInstanceUID))
        )
    return SUCCESS, (transaction, archive.commitment(references))


def report(transaction: str, verdict: Verdict, archive_ae_title: str) -> Dataset:
    found = Dataset()
    found.TransactionUID = transaction
    found.RetrieveAETitle = archive_ae_title
    if verdict.committed:
        found.ReferencedSOPSequence = [
            _reference(r.sop_class_uid, r.sop_instance_uid) for r in verdict.committed
        ]
    if verdict.failed:
        failed = []
        for r, reason in verdict.failed:
            item = _reference(r.sop_class_uid, r.sop_instance_uid)
            item.FailureReason = reason
            failed.append(item)
        found.FailedSOPSequence = failed
    return found


def _reference(sop_class: str, sop_instance: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    return item


class Reporter:
    """Delivers commitment reports for the archive's AE title."""

    def __init__(self, engine: Engine, ae_title: str, tls_files: Files | None = None) -> None:
        self.engine = engine
        self.ae_title = ae_title
        self.tls_files = tls_files  # a requestor marked tls gets its report over DICOM TLS

    def deliver_later(self, assoc: Any, calling: str, transaction: str, verdict: Verdict) -> None:
        found = report(transaction, verdict, self.ae_title)
        threading.Thread(
            target=self._deliver,
            args=(assoc, calling, found, 2 if verdict.failed else 1),
            name=f"commit-{found.TransactionUID}",
            daemon=True,
        ).start()

    def _deliver(self, assoc: Any, calling: str, found: Dataset, kind: int) -> None:
        # The N-ACTION response goes out when the handler returns; the report follows it, on
        # the same association while the requestor keeps it open, else on a new one.
        time.sleep(0.05)
        if assoc.is_established:
            try:
                answer = assoc.send_n_event_report(
                    found, kind, StorageCommitmentPushModel, STORAGE_COMMITMENT_INSTANCE
                )
                if answer[0] is not None and answer[0].get("Status", 0xFFFF) == SUCCESS:
                    return
            except Exception:
                log.exception("storage commitment report on the same association failed")
        self._on_new_association(calling, found, kind)

    def _on_new_association(self, calling: str, found: Dataset, kind: int) -> None:
        peer = get_modality(self.engine, calling)
        if peer is None:
            log.error("storage commitment report for unregistered AE %s undeliverable", calling)
            return
        ae = AE(ae_title=self.ae_title)
        ae.add_requested_context(StorageCommitmentPushModel)
        role = build_role(StorageCommitmentPushModel, scp_role=True)
        options: dict[str, Any] = {}
        if peer.tls and self.tls_files is not None:
            options["tls_args"] = (tls.outgoing(self.tls_files), None)
        for attempt in range(3):
            assoc = ae.associate(
                peer.host,
                peer.port,
                ae_title=peer.ae_title,
                ext_neg=[role],
                evt_handlers=[(evt.EVT_CONN_OPEN, nodelay)],
                **options,
            )
            if assoc.is_established:
                try:
                    answer, _ = assoc.send_n_event_report(
                        found, kind, StorageCommitmentPushModel, STORAGE_COMMITMENT_INSTANCE
                    )
                finally:
                    assoc.release()
                if answer is not None and answer.get("Status", 0xFFFF) == SUCCESS:
                    return
                log.warning("storage commitment report refused by %s: %r", calling, answer)
            time.sleep(2**attempt)
        log.error("storage commitment report to %s undeliverable", calling)


def nodelay(event: evt.Event) -> None:
    """Nagle off on a pynetdicom association's socket (dcmtk and Orthanc leave it on)."""
    sock = event.assoc.dul.socket.socket if event.assoc.dul.socket else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
