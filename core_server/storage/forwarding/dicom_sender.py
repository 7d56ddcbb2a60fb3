"""C-STORE of one batch (one study) to a DICOM destination over one pynetdicom association,
then, for a destination with storage commitment, the N-ACTION of the Storage Commitment Push
Model on the same association and a bounded wait for its N-EVENT-REPORT there.

Proposed per SOP class of the batch: its stored syntaxes, the uncompressed ones, then the
lossless ones the core can make. A file goes as stored when the peer took its syntax, else
decompressed or compressed losslessly to the syntax it took (the codecs of
``storage.compression``' ``for_receiver``, which the retrieve path uses too).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pydicom.uid import UID, generate_uid
from pynetdicom import AE, _config, evt
from pynetdicom.sop_class import StorageCommitmentPushModel, Verification  # type: ignore

from core_server.archive import InstanceFile
from core_server.storage.compression import codecs
from core_server.storage.forwarding.delivery import Delivery

log = logging.getLogger(__name__)
# A file sent as stored goes from its path in chunks, never decoded and re-encoded (this
# changes only send_c_store calls given a path; the core makes none elsewhere).
_config.STORE_SEND_CHUNKED_DATASET = True
COMMITMENT_INSTANCE = UID("1.2.840.10008.1.20.1.1")  # the well-known Storage Commitment SOP
TIMEOUT = 30.0  # seconds: connect, each answer
MAX_CONTEXTS = 127  # 128 in all, one kept for storage commitment


@dataclass(frozen=True)
class Peer:
    ae_title: str
    host: str
    port: int
    calling: str = "PACS"
    tls: ssl.SSLContext | None = None
    commitment: bool = False
    commit_wait: float = 30.0
    timeout: float = TIMEOUT


def _ae(peer: Peer) -> Any:
    ae = AE(ae_title=peer.calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = peer.timeout
    ae.connection_timeout = peer.timeout
    return ae


def _nodelay(event: Any) -> None:
    # Nagle would hold each small DIMSE message (a C-STORE's command, its answer) ~40 ms.
    sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _associate(ae: Any, peer: Peer, handlers: list[Any] | None = None) -> Any:
    tls_args = (peer.tls, None) if peer.tls is not None else None
    assoc = ae.associate(
        peer.host,
        peer.port,
        ae_title=peer.ae_title,
        tls_args=tls_args,
        evt_handlers=[(evt.EVT_CONN_OPEN, _nodelay), *(handlers or [])],
    )
    if not assoc.is_established:
        why = "rejected" if assoc.is_rejected else "aborted" if assoc.is_aborted else "failed"
        raise ConnectionRefusedError(
            f"association with {peer.ae_title} at {peer.host}:{peer.port} {why}"
        )
    return assoc


def echo(peer: Peer) -> str | None:
    """C-ECHO: None when the peer answers Success, else what went wrong."""
    ae = _ae(peer)
    ae.add_requested_context(Verification)
    assoc = _associate(ae, peer)
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    if not status or int(status.Status) != 0:
        return f"C-ECHO answered {status.get('Status', 'nothing')}"
    return None


def _for_peer(f: InstanceFile, accepted: str) -> Dataset | Path:
    """The object in the syntax the peer took for its class: its file (streamed as it is)
    when that is the stored one (raises CannotCompress)."""
    if accepted == str(f.transfer_syntax_uid):
        return Path(f.path)
    return codecs.for_receiver(f.path, str(f.transfer_syntax_uid), {accepted})


# C-STORE statuses after which another try will not help: the data set does not match the
# SOP class (A9xx), or the object is refused as invalid, unsupported or not authorised.
_FINAL = {0x0117, 0x0122, 0x0124}


def _is_final(status: int) -> bool:
    return status in _FINAL or status & 0xFF00 == 0xA900


def send(peer: Peer, files: list[InstanceFile]) -> Delivery:
    """C-STORE ``files`` (then ask storage commitment); what became of each."""
    ae = _ae(peer)
    for uid, syntaxes in codecs.proposals(files, MAX_CONTEXTS).items():
        ae.add_requested_context(uid, syntaxes)
    if peer.commitment:
        ae.add_requested_context(StorageCommitmentPushModel)
    report = _Report()
    assoc = _associate(ae, peer, [(evt.EVT_N_EVENT_REPORT, report.handle)])
    delivery = Delivery()
    try:
        accepted = {
            str(c.abstract_syntax): str(c.transfer_syntax[0]) for c in assoc.accepted_contexts
        }
        for number, f in enumerate(files, start=1):
            if not assoc.is_established:
                delivery.error = f"{peer.ae_title} ended the association"
                break
            _store_one(assoc, f, accepted, number, delivery)
        if peer.commitment and delivery.sent and assoc.is_established:
            _commit(assoc, peer, files, delivery, report)
    finally:
        if assoc.is_established:
            assoc.release()
    return delivery


def _settle(assoc: Any) -> None:
    """Hold pynetdicom's reactor before a request: its own pause (``send_c_store`` clears a
    checkpoint, then waits for ``_is_paused``) can see a stale flag while the reactor is just
    leaving its wait, and the reactor then takes the response off the queue ("Received
    unexpected C-STORE service message", then a DIMSE timeout and an abort: pynetdicom issues
    850, 875). Waiting until the reactor thread really waits on the checkpoint closes that."""
    checkpoint = getattr(assoc, "_reactor_checkpoint", None)
    waiters = getattr(getattr(checkpoint, "_cond", None), "_waiters", None)
    if checkpoint is None or waiters is None:
        return
    checkpoint.clear()
    deadline = time.monotonic() + 1.0
    while not waiters and assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.0001)


def _store_one(
    assoc: Any, f: InstanceFile, accepted: dict[str, str], number: int, delivery: Delivery
) -> None:
    uid = f.sop_instance_uid
    syntax = accepted.get(f.sop_class_uid)
    if syntax is None:
        delivery.failed[uid] = (f"the peer refused SOP class {f.sop_class_uid}", True)
        return
    try:
        ds = _for_peer(f, syntax)
    except codecs.CannotCompress as exc:
        delivery.failed[uid] = (f"cannot transcode for the peer: {exc}", True)
        return
    _settle(assoc)
    status = assoc.send_c_store(ds, msg_id=number % 65536)
    if not status or "Status" not in status:
        delivery.error = "no C-STORE answer (timeout or abort)"
        return
    code = int(status.Status)
    if code == 0 or code & 0xF000 == 0xB000:
        delivery.sent.add(uid)
        return
    comment = str(status.get("ErrorComment", "") or "")
    delivery.failed[uid] = (f"C-STORE status 0x{code:04X} {comment}".strip(), _is_final(code))


class _Report:
    """The N-EVENT-REPORT a batch waits for, matched by Transaction UID: on its own
    association, or on one the peer opened to the core's AE (handed over by
    :func:`deliver`)."""

    def __init__(self) -> None:
        self.transaction_uid = ""
        self.committed: set[str] = set()
        self.failed: dict[str, str] = {}
        self.came = threading.Event()
        self.used = False  # applied by the batch that waited for it

    def take(self, report: dict[str, Any]) -> None:
        self.committed = {str(u) for u in report.get("committed") or []}
        failed = [str(u) for u in report.get("failed") or []]
        self.failed = report.get("reasons") or dict.fromkeys(failed, "commitment failed")
        self.came.set()

    def handle(self, event: Any) -> tuple[int, None]:
        report = read_report(event.event_information)
        if report["transaction_uid"] == self.transaction_uid:
            self.take(report)
        else:
            deliver(report)  # another batch's (a peer answering on any association)
        return 0x0000, None


# Transactions whose batch is still under way in this process: a report for one of them that
# comes on another association goes to the waiting batch, not to the tasks (not yet recorded).
_WAITING: dict[str, _Report] = {}
_LOCK = threading.Lock()


def deliver(report: dict[str, Any]) -> bool:
    """Hand a report (:func:`read_report`) to the batch of this process waiting for it;
    False when none is (the caller records it on the tasks)."""
    with _LOCK:
        waiting = _WAITING.get(str(report.get("transaction_uid") or ""))
    if waiting is None:
        return False
    waiting.take(report)
    return True


def finish(transaction_uid: str) -> _Report | None:
    """The batch of ``transaction_uid`` is recorded: stop waiting; the report when it came
    after the batch stopped waiting (for the caller to record on the tasks)."""
    with _LOCK:
        waiting = _WAITING.pop(transaction_uid, None)
    if waiting is not None and waiting.came.is_set() and not waiting.used:
        return waiting
    return None


def read_report(info: Dataset) -> dict[str, Any]:
    """A Storage Commitment N-EVENT-REPORT's Event Information: its Transaction UID, the SOP
    instances kept and those failed (with why), as `service.take_report` takes it."""
    failed = {
        str(item.ReferencedSOPInstanceUID): (
            f"commitment failed: 0x{int(item.get('FailureReason', 0) or 0):04X}"
        )
        for item in info.get("FailedSOPSequence", [])
        if "ReferencedSOPInstanceUID" in item
    }
    return {
        "transaction_uid": str(info.get("TransactionUID", "")),
        "committed": [
            str(item.ReferencedSOPInstanceUID)
            for item in info.get("ReferencedSOPSequence", [])
            if "ReferencedSOPInstanceUID" in item
        ],
        "failed": list(failed),
        "reasons": failed,
    }


def _commit(
    assoc: Any, peer: Peer, files: list[InstanceFile], delivery: Delivery, report: _Report
) -> None:
    """N-ACTION for the stored objects, then wait a bounded time for the report."""
    transaction = str(generate_uid())
    report.transaction_uid = delivery.transaction_uid = transaction
    with _LOCK:
        _WAITING[transaction] = report  # until the caller's finish()
    request = Dataset()
    request.TransactionUID = transaction
    request.ReferencedSOPSequence = []
    for f in files:
        if f.sop_instance_uid in delivery.sent:
            item = Dataset()
            item.ReferencedSOPClassUID = f.sop_class_uid
            item.ReferencedSOPInstanceUID = f.sop_instance_uid
            request.ReferencedSOPSequence.append(item)
    _settle(assoc)
    status, _reply = assoc.send_n_action(
        request, 1, StorageCommitmentPushModel, COMMITMENT_INSTANCE
    )
    if not status or int(status.get("Status", 0xFFFF)) != 0:
        log.warning("%s refused the storage commitment request: %s", peer.ae_title, status)
        finish(transaction)
        delivery.transaction_uid = ""  # asked again by recommit
        return
    if not report.came.wait(peer.commit_wait):
        log.info("%s: no commitment report within %.0f s", peer.ae_title, peer.commit_wait)
        return
    report.used = True
    delivery.committed = report.committed & delivery.sent
    for uid, why in report.failed.items():
        if uid in delivery.sent:
            delivery.sent.discard(uid)
            delivery.failed[uid] = (why, False)
