"""Storage Commitment Push Model SCP (PS3.4 J): the N-ACTION request checked and answered, the
archive's verdict, and its N-EVENT-REPORT delivered.

The report goes on the same association while the requestor keeps it open, else on a new
association to the requestor's registered host and port. It is a durable job row
(:mod:`core_server.dicom.commitment_jobs`), written before the N-ACTION is answered: when the
new association fails too, or the node dies, any node of the cluster sends it later.
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

from core_server import jobs, tls
from core_server.archive import Archive, Reference, Verdict
from core_server.dicom import commitment_jobs as owed
from core_server.dicom.handlers import SUCCESS, Status, status
from core_server.modalities import get_modality
from core_server.periodic import Periodic
from core_server.tls import Files

log = logging.getLogger(__name__)
STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"
NO_SUCH_ACTION = 0x0123
MISSING_ATTRIBUTE = 0x0120
MISSING_ATTRIBUTE_VALUE = 0x0121
ROUND_SECONDS = 5.0  # how often a node looks for reports owed (another node's, a retry)


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
    """Delivers commitment reports for the archive's AE title: the ones its node was asked
    for, and (its runner, ``start``/``stop``) any report owed whose try is due."""

    def __init__(self, engine: Engine, ae_title: str, tls_files: Files | None = None) -> None:
        self.engine = engine
        self.ae_title = ae_title
        self.tls_files = tls_files  # a requestor marked tls gets its report over DICOM TLS
        self.owner = jobs.this_process()
        self.ticker = Periodic("commitment-reports", ROUND_SECONDS, self.round)
        self._rounds = 0

    def start(self) -> None:
        owed.JOBS.release_gone(self.engine)
        self.ticker.start()

    def stop(self) -> None:
        self.ticker.stop()

    def deliver_later(self, assoc: Any, calling: str, transaction: str, verdict: Verdict) -> None:
        found = report(transaction, verdict, self.ae_title)
        kind = 2 if verdict.failed else 1
        job_id = owed.owe(self.engine, calling, found, kind, self.owner)  # before the answer
        threading.Thread(
            target=self._deliver,
            args=(assoc, job_id, calling, found, kind),
            name=f"commit-{found.TransactionUID}",
            daemon=True,
        ).start()

    def round(self) -> None:
        """Every report owed whose try is due, sent on a new association."""
        self._rounds += 1
        if self._rounds % 720 == 1:  # about every hour
            owed.prune(self.engine)
        while owed.any_due(self.engine):
            claimed = owed.JOBS.claim_next(self.engine, self.owner, owed.LEASE)
            if claimed is None:
                return
            row = claimed.row
            found = owed.report_of(row)
            self._settle(row.id, claimed.attempt, row.calling_ae, found, row.event_type)

    def _deliver(self, assoc: Any, job_id: int, calling: str, found: Dataset, kind: int) -> None:
        # The N-ACTION response goes out when the handler returns; the report follows it, on
        # the same association while the requestor keeps it open, else on a new one.
        time.sleep(0.05)
        if assoc.is_established:
            try:
                answer = assoc.send_n_event_report(
                    found, kind, StorageCommitmentPushModel, STORAGE_COMMITMENT_INSTANCE
                )
                if answer[0] is not None and answer[0].get("Status", 0xFFFF) == SUCCESS:
                    owed.JOBS.succeed(self.engine, job_id, self.owner, owed.SENT)
                    return
            except Exception:
                log.exception("storage commitment report on the same association failed")
        self._settle(job_id, 1, calling, found, kind)

    def _settle(self, job_id: int, attempt: int, calling: str, found: Dataset, kind: int) -> None:
        """One try on a new association, recorded: sent, or retried later by any node."""
        try:
            error = self._on_new_association(calling, found, kind)
        except Exception as e:
            log.exception("storage commitment report to %s failed", calling)
            error = f"{type(e).__name__}: {e}"
        if not error:
            owed.JOBS.succeed(self.engine, job_id, self.owner, owed.SENT)
            return
        state = owed.JOBS.fail(
            self.engine,
            job_id,
            attempt,
            self.owner,
            owed.RETRY,
            error,
            give_up=error == UNREGISTERED,
        )
        log.warning("storage commitment report to %s: %s (%s)", calling, error, state)

    def _on_new_association(self, calling: str, found: Dataset, kind: int) -> str:
        """Sends the report on an association of its own; "" when the requestor took it,
        else why not."""
        peer = get_modality(self.engine, calling)
        if peer is None:
            return UNREGISTERED
        ae = AE(ae_title=self.ae_title)
        ae.add_requested_context(StorageCommitmentPushModel)
        role = build_role(StorageCommitmentPushModel, scp_role=True)
        options: dict[str, Any] = {}
        if peer.tls and self.tls_files is not None:
            options["tls_args"] = (tls.outgoing(self.tls_files), None)
        assoc = ae.associate(
            peer.host,
            peer.port,
            ae_title=peer.ae_title,
            ext_neg=[role],
            evt_handlers=[(evt.EVT_CONN_OPEN, nodelay)],
            **options,
        )
        if not assoc.is_established:
            return f"no association with {peer.host}:{peer.port}"
        try:
            answer, _ = assoc.send_n_event_report(
                found, kind, StorageCommitmentPushModel, STORAGE_COMMITMENT_INSTANCE
            )
        finally:
            assoc.release()
        if answer is not None and answer.get("Status", 0xFFFF) == SUCCESS:
            return ""
        return f"refused: {answer!r}"[:500]


UNREGISTERED = "the requestor's AE title is not registered"


def nodelay(event: evt.Event) -> None:
    """Nagle off on a pynetdicom association's socket (dcmtk and Orthanc leave it on)."""
    sock = event.assoc.dul.socket.socket if event.assoc.dul.socket else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
