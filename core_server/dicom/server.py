"""The archive's DICOM application entity (pynetdicom): verification, storage, query/retrieve
(Patient and Study Root FIND, GET, MOVE) and storage commitment (push model).

Who may do what is read from the modality registry once per association, so registry changes
apply to the next association without a restart. Unknown calling AEs may echo and store
unless strict mode is on; query and retrieve need a registered AE.
"""

from __future__ import annotations

import copy
import functools
import logging
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydicom import Dataset, dcmread
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import (
    AE,
    ALL_TRANSFER_SYNTAXES,
    AllStoragePresentationContexts,
    _config,
    build_context,
    build_role,
    dimse_messages,
    evt,
)
from pynetdicom.association import Association
from pynetdicom.sop_class import (
    ModalityPerformedProcedureStep,
    ModalityWorklistInformationFind,
    StorageCommitmentPushModel,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer
from sqlalchemy import Engine

from core_server.archive import (
    Archive,
    InstanceFile,
    InvalidObject,
    Origin,
    QueryError,
    Reference,
)
from core_server.dicom import direct, mpps, worklist
from core_server.dicom.answers import Answer
from core_server.dicom.charsets import answer_charset, requested
from core_server.modalities import Modality, get_modality, list_modalities
from core_server.ris import Ris

log = logging.getLogger(__name__)
_QUERY_RETRIEVE_LEVEL, _RETRIEVE_AE_TITLE = 0x00080052, 0x00080054

SUCCESS = 0x0000
PENDING = 0xFF00
CANCEL = 0xFE00
NOT_AUTHORIZED = 0x0124
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
IDENTIFIER_DOES_NOT_MATCH = 0xA900
UNABLE_TO_PROCESS = 0xC001
MOVE_DESTINATION_UNKNOWN = 0xA801
STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"
_UNCOMPRESSED = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
_UNKNOWN = "unknown"


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
        share_port: bool = False,
        ris: Ris | None = None,
    ) -> None:
        self.archive = archive
        self.ris = ris  # serves the Modality Worklist and MPPS when given
        self.share_port = share_port
        self.engine = engine
        self.ae_title = ae_title
        self.host = host
        self.port = port
        self.strict = strict
        self._peers: weakref.WeakKeyDictionary[Association, Modality | str] = (
            weakref.WeakKeyDictionary()
        )
        self._server: Any = None
        self.ae = self._build_ae(max_pdu, timeout)

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        _receive_into(self.archive.storage.incoming)
        handlers = [
            (evt.EVT_CONN_OPEN, _nodelay),
            (evt.EVT_REQUESTED, _prefer_requestor_order),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_FIND, self._on_find),
            (evt.EVT_C_GET, self._on_get),
            (evt.EVT_C_MOVE, self._on_move),
            (evt.EVT_N_ACTION, self._on_commitment),
            (evt.EVT_N_CREATE, self._on_mpps_create),
            (evt.EVT_N_SET, self._on_mpps_set),
        ]
        server = self.ae.make_server(
            (self.host, self.port),
            evt_handlers=handlers,
            contexts=_CheaplyCopiedContexts(self.ae.supported_contexts),
            server_class=_SharedPortServer if self.share_port else _RoutingServer,
        )
        server.fast_path = self._serve_direct
        server.elsewhere = (
            frozenset(str(c.abstract_syntax) for c in self.ae.supported_contexts) - direct.SERVED
        )
        self.ae._servers.append(server)
        threading.Thread(target=server.serve_forever, name="dicom-acceptor", daemon=True).start()
        self._server = server
        self.port = server.server_address[1]
        log.info("DICOM %s listening on %s:%s", self.ae_title, self.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def _build_ae(self, max_pdu: int, timeout: float) -> AE:
        ae = _ArchiveAE(self.ae_title, self._registered_titles if self.strict else None)
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
        for model in sorted(direct.RETRIEVE_MODELS):  # C-FIND, C-GET, C-MOVE, both roots
            ae.add_supported_context(model)
        ae.add_supported_context(StorageCommitmentPushModel)
        if self.ris is not None:
            # Not on the direct path: associations proposing these go to pynetdicom.
            ae.add_supported_context(ModalityWorklistInformationFind)
            ae.add_supported_context(ModalityPerformedProcedureStep)
        return ae

    def _registered_titles(self) -> list[str]:
        # Never empty: pynetdicom reads an empty list as "anyone may associate".
        return [m.ae_title for m in list_modalities(self.engine)] or ["\\none"]

    # -- who may do what ----------------------------------------------------------------------

    def _peer(self, assoc: Association) -> Modality | None:
        found = self._peers.get(assoc)
        if found is None:
            ae_title = assoc.requestor.ae_title.strip()
            found = get_modality(self.engine, ae_title) or _UNKNOWN
            self._peers[assoc] = found
        return None if found == _UNKNOWN else found  # type: ignore[return-value]

    def _may(self, assoc: Association, action: str) -> bool:
        return self._permits(self._peer(assoc), assoc.requestor.ae_title.strip(), action)

    def _permits(self, peer: Modality | None, ae_title: str, action: str) -> bool:
        if peer is None:
            allowed = action in ("echo", "store") and not self.strict
        else:
            allowed = action == "echo" or bool(getattr(peer, f"allow_{action}"))
        if not allowed:
            log.warning(
                "refused %s from %s (%s)",
                action,
                ae_title,
                "not registered" if peer is None else "not permitted",
            )
        return allowed

    def _serve_direct(self, sock: socket.socket, request: Any) -> None:
        """An association that stores, echoes or retrieves, on the direct path (:mod:`direct`)."""
        calling = request.calling_ae_title.strip()
        peer = get_modality(self.engine, calling)

        def store(ae_title: str, address: str, path: Path) -> Dataset | int:
            if not self._permits(peer, ae_title, "store"):
                return _status(NOT_AUTHORIZED, "calling AE title may not store here")
            return self._store(path, Origin("dimse", ae_title, address))

        def retrieve(ae_title: str, keys: dict[str, str]) -> list[InstanceFile] | int:
            if not self._permits(peer, ae_title, "retrieve"):
                return NOT_AUTHORIZED
            return self.archive.locate(keys)

        def find(
            ae_title: str, identifier: Dataset, cancelled: Callable[[], bool]
        ) -> Iterator[tuple[int | Dataset, Answer | None]]:
            if not self._permits(peer, ae_title, "query"):
                return iter([(_status(NOT_AUTHORIZED, "calling AE title may not query"), None)])
            return self._find(identifier, cancelled)

        def destination(_ae_title: str, move_destination: str) -> tuple[str, int] | int:
            target = get_modality(self.engine, move_destination)
            if target is None:
                log.warning("C-MOVE to unknown destination %r", move_destination)
                return MOVE_DESTINATION_UNKNOWN
            return target.host, target.port

        direct.DirectAssociation(
            sock,
            request,
            ae_title=self.ae_title,
            max_pdu=self.ae.maximum_pdu_size,
            timeout=self.ae.network_timeout or 60.0,
            storage=self.archive.storage,
            implementation=(self.ae.implementation_class_uid, self.ae.implementation_version_name),
            admit=lambda ae_title: peer is not None or not self.strict,
            echo=lambda ae_title: (
                SUCCESS if self._permits(peer, ae_title, "echo") else NOT_AUTHORIZED
            ),
            store=store,
            retrieve=retrieve,
            destination=destination,
            find=find,
            query_keys=_query_keys,
        ).serve()

    # -- handlers -----------------------------------------------------------------------------

    def _on_echo(self, event: evt.Event) -> int:
        return SUCCESS if self._may(event.assoc, "echo") else NOT_AUTHORIZED

    def _on_store(self, event: evt.Event) -> Dataset | int:
        assoc = event.assoc
        if not self._may(assoc, "store"):
            return _status(NOT_AUTHORIZED, "calling AE title may not store here")
        origin = Origin("dimse", assoc.requestor.ae_title.strip(), assoc.requestor.address)
        return self._store(event.dataset_path, origin)

    def _store(self, path: Path, origin: Origin) -> Dataset | int:
        try:
            self.archive.store_file(path, origin)
        except InvalidObject as exc:
            log.warning("C-STORE from %s refused: %s", origin.ae_title, exc)
            return _status(CANNOT_UNDERSTAND, str(exc))
        except Exception as exc:
            log.exception("C-STORE from %s failed", origin.ae_title)
            return _status(OUT_OF_RESOURCES, f"archive could not store the object: {exc}")
        return SUCCESS

    def _on_find(self, event: evt.Event) -> Iterator[tuple[int | Dataset, Dataset | None]]:
        if not self._may(event.assoc, "query"):
            yield _status(NOT_AUTHORIZED, "calling AE title may not query"), None
            return
        if self.ris is not None and event.request.AffectedSOPClassUID == (
            ModalityWorklistInformationFind
        ):
            peer = self._peer(event.assoc)
            yield from worklist.find(
                self.ris,
                event.identifier,
                ascii_only=bool(peer and peer.ascii_only),
                cancelled=lambda: bool(event.is_cancelled),
            )
            return
        for status, answer in self._find(event.identifier, lambda: bool(event.is_cancelled)):
            yield status, None if answer is None else answer.dataset()

    def _find(
        self, identifier: Dataset, cancelled: Callable[[], bool]
    ) -> Iterator[tuple[int | Dataset, Answer | None]]:
        # One pass over the identifier (pydicom converts each element as it is read): what each
        # answer returns, looked up once per query rather than once per answer, and the keys.
        fields, keys = [], {}
        for element in identifier:
            fields.append((int(element.tag), element.keyword, _vr(element)))
            if element.keyword and element.VR != "SQ":
                keys[element.keyword] = _key_text(element.value)
        level = keys.get("QueryRetrieveLevel", "").strip()
        terms = requested(identifier)
        try:
            answers = self.archive.find(level, keys)
            for answer in answers:
                if cancelled():
                    yield CANCEL, None
                    return
                yield PENDING, self._answer(fields, answer, terms)
        except QueryError as exc:
            yield _status(IDENTIFIER_DOES_NOT_MATCH, str(exc)), None
            return
        yield SUCCESS, None

    def _answer(
        self, fields: list[tuple[int, str, str]], answer: dict[str, Any], terms: list[str]
    ) -> Answer:
        """The answer: ``fields`` are the query's (tag, keyword, VR)."""
        # Only the values the answer carries decide its character set: the index holds more
        # (every name of the level), which the query may not have asked for.
        asked = {keyword for _, keyword, _ in fields}
        texts = [v for k, v in answer.items() if k in asked and isinstance(v, str)]
        found = Answer(charset=answer_charset(terms, texts))
        for tag, keyword, vr in fields:
            if keyword in ("SpecificCharacterSet", "QueryRetrieveLevel", "RetrieveAETitle"):
                continue
            if keyword in answer:
                value = _dicom_value(answer[keyword], vr)
            elif keyword == "InstanceAvailability":
                value = "ONLINE"
            else:
                value = None
            found.elements.append((tag, vr, value))
        found.elements.append((_QUERY_RETRIEVE_LEVEL, "CS", answer["QueryRetrieveLevel"]))
        found.elements.append((_RETRIEVE_AE_TITLE, "AE", self.ae_title))
        return found

    def _on_mpps_create(self, event: evt.Event) -> tuple[int, Dataset | None]:
        # Only registered modalities may move exams.
        if self.ris is None or self._peer(event.assoc) is None:
            return NOT_AUTHORIZED, None
        uid = str(event.request.AffectedSOPInstanceUID or "")
        calling = event.assoc.requestor.ae_title.strip()
        return mpps.create(self.ris, uid, event.attribute_list, calling)

    def _on_mpps_set(self, event: evt.Event) -> tuple[int, Dataset | None]:
        if self.ris is None or self._peer(event.assoc) is None:
            return NOT_AUTHORIZED, None
        uid = str(event.request.RequestedSOPInstanceUID or "")
        calling = event.assoc.requestor.ae_title.strip()
        return mpps.set_(self.ris, uid, event.modification_list, calling)

    def _on_get(self, event: evt.Event) -> Iterator[Any]:
        if not self._may(event.assoc, "retrieve"):
            # pynetdicom answers Success, without reading further, when the handler announces
            # no sub-operations: announce one, so that the refusal is what goes out.
            yield 1
            yield _status(NOT_AUTHORIZED, "calling AE title may not retrieve"), None
            return
        files = self.archive.locate(_query_keys(event.identifier))
        accepted: dict[str, set[str]] = {}
        for context in event.assoc.accepted_contexts:
            accepted.setdefault(context.abstract_syntax, set()).add(context.transfer_syntax[0])
        yield len(files)
        yield from _send(event, files, lambda: accepted)

    def _on_move(self, event: evt.Event) -> Iterator[Any]:
        destination = get_modality(self.engine, str(event.move_destination or "").strip())
        if not self._may(event.assoc, "retrieve") or destination is None:
            if destination is None:
                log.warning("C-MOVE to unknown destination %r", event.move_destination)
            yield None, None  # answered with 0xA801, move destination unknown
            return
        files = self.archive.locate(_query_keys(event.identifier))
        accepted: dict[str, set[str]] = {}

        def remember(accept_event: evt.Event) -> None:
            for context in accept_event.assoc.accepted_contexts:
                accepted.setdefault(context.abstract_syntax, set()).add(context.transfer_syntax[0])

        yield (
            destination.host,
            destination.port,
            {
                "ae_title": destination.ae_title,
                "contexts": _contexts_for(files),
                "evt_handlers": [(evt.EVT_CONN_OPEN, _nodelay), (evt.EVT_ACCEPTED, remember)],
                "max_pdu": self.ae.maximum_pdu_size,
            },
        )
        yield len(files)
        yield from _send(event, files, lambda: accepted)

    def _on_commitment(self, event: evt.Event) -> tuple[int, Dataset | None]:
        if event.action_type != 1:
            return 0x0123, None  # no such action
        info = event.action_information
        references = [
            Reference(str(item.ReferencedSOPClassUID), str(item.ReferencedSOPInstanceUID))
            for item in info.get("ReferencedSOPSequence", [])
        ]
        transaction = str(info.TransactionUID)
        assoc = event.assoc
        verdict = self.archive.commitment(references)
        report = _commitment_report(transaction, verdict, self.ae_title)
        calling = assoc.requestor.ae_title.strip()
        threading.Thread(
            target=self._deliver_report,
            args=(assoc, calling, report, 2 if verdict.failed else 1),
            name=f"commit-{transaction}",
            daemon=True,
        ).start()
        return SUCCESS, None

    def _deliver_report(self, assoc: Association, calling: str, report: Dataset, kind: int) -> None:
        # The N-ACTION response goes out when the handler returns; the report follows it, on
        # the same association while the requestor keeps it open, else on a new one.
        time.sleep(0.05)
        if assoc.is_established:
            try:
                answer = assoc.send_n_event_report(
                    report, kind, StorageCommitmentPushModel, STORAGE_COMMITMENT_INSTANCE
                )
                if answer[0] is not None and answer[0].get("Status", 0xFFFF) == SUCCESS:
                    return
            except Exception:
                log.exception("storage commitment report on the same association failed")
        self._report_on_new_association(calling, report, kind)

    def _report_on_new_association(self, calling: str, report: Dataset, kind: int) -> None:
        peer = get_modality(self.engine, calling)
        if peer is None:
            log.error("storage commitment report for unregistered AE %s undeliverable", calling)
            return
        ae = AE(ae_title=self.ae_title)
        ae.add_requested_context(StorageCommitmentPushModel)
        role = build_role(StorageCommitmentPushModel, scp_role=True)
        for attempt in range(3):
            assoc = ae.associate(
                peer.host,
                peer.port,
                ae_title=peer.ae_title,
                ext_neg=[role],
                evt_handlers=[(evt.EVT_CONN_OPEN, _nodelay)],
            )
            if assoc.is_established:
                try:
                    answer, _ = assoc.send_n_event_report(
                        report, kind, StorageCommitmentPushModel, STORAGE_COMMITMENT_INSTANCE
                    )
                finally:
                    assoc.release()
                if answer is not None and answer.get("Status", 0xFFFF) == SUCCESS:
                    return
                log.warning("storage commitment report refused by %s: %r", calling, answer)
            time.sleep(2**attempt)
        log.error("storage commitment report to %s undeliverable", calling)


# -- helpers ------------------------------------------------------------------------------------


class _RoutingServer(ThreadedAssociationServer):
    """pynetdicom's association server, except that an association the direct path serves
    (storage, verification, C-FIND, C-GET, C-MOVE) is handed to it (:mod:`direct`)."""

    fast_path: Callable[[socket.socket, Any], None] | None = None
    elsewhere: frozenset[str] = frozenset()  # abstract syntaxes only pynetdicom serves

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        if self.fast_path is not None and isinstance(request, socket.socket):
            blocking = request.gettimeout()
            association = direct.peek_request(request, self.ae.acse_timeout or 30.0)
            if association is not None and direct.serves(association, self.elsewhere):
                try:
                    self.fast_path(request, association)
                except (OSError, ConnectionError) as exc:
                    log.info("association from %s ended: %s", client_address, exc)
                except Exception:
                    log.exception("association from %s failed", client_address)
                finally:
                    self.shutdown_request(request)
                return
            request.settimeout(blocking)
        super().process_request_thread(request, client_address)


class _SharedPortServer(_RoutingServer):
    """Binds with SO_REUSEPORT: several core processes listen on one DICOM port and the kernel
    spreads the associations over them (see ``--dicom-workers``)."""

    def server_bind(self) -> None:
        assert self.socket is not None
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class _ArchiveAE(AE):
    """An AE whose list of admitted calling AE titles is read afresh for every association
    (strict mode), so registry changes apply without a restart."""

    def __init__(self, ae_title: str, admitted: Callable[[], list[str]] | None) -> None:
        self._admitted = admitted
        super().__init__(ae_title=ae_title)

    @property  # type: ignore[override]
    def require_calling_aet(self) -> list[str]:
        return self._admitted() if self._admitted else []

    @require_calling_aet.setter
    def require_calling_aet(self, value: list[str]) -> None:
        pass  # decided by the registry


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


def _receive_into(folder: Path) -> None:
    """Configure pynetdicom for the associations it serves: write each C-STORE data set to a
    file in ``folder`` as its fragments arrive (its chunked mode), instead of assembling it in
    memory for us to write again; the archive then renames the file into place. pynetdicom
    removes the file after the handler returns, which finds nothing once the archive has it."""
    _config.STORE_RECV_CHUNKED_DATASET = True
    # pynetdicom formats every query identifier and answer for its INFO log whatever the log
    # level: most of a C-FIND's CPU time. Our own log says what was asked.
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False
    dimse_messages.NamedTemporaryFile = functools.partial(  # type: ignore[attr-defined]
        tempfile.NamedTemporaryFile, dir=folder
    )


def _nodelay(event: evt.Event) -> None:
    sock = event.assoc.dul.socket.socket if event.assoc.dul.socket else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


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


def _status(code: int, comment: str) -> Dataset:
    status = Dataset()
    status.Status = code
    status.ErrorComment = comment[:64]
    return status


def _vr(element: DataElement) -> str:
    try:
        return str(dictionary_VR(element.tag))
    except KeyError:
        return str(element.VR)


def _query_keys(identifier: Dataset) -> dict[str, str]:
    return {
        element.keyword: _key_text(element.value)
        for element in identifier
        if element.keyword and element.VR != "SQ"
    }


def _key_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, MultiValue | list):
        return "\\".join(str(v) for v in value)
    return str(value)


def _dicom_value(value: Any, vr: str) -> Any:
    if value is None or value == "":
        return None
    if vr in ("US", "UL", "SS", "SL"):
        return int(value)
    if isinstance(value, list):
        return value or None
    return str(value) if not isinstance(value, int) else value


def _contexts_for(files: list[InstanceFile]) -> list[Any]:
    return [build_context(uid, syntaxes) for uid, syntaxes in direct.proposals(files).items()]


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
    stored = UID(f.transfer_syntax_uid)
    if accepted and stored not in accepted and stored.is_compressed and accepted & _UNCOMPRESSED:
        return direct.uncompressed(f.path)  # the peer takes no compressed syntax of this class
    return dcmread(f.path)


def _commitment_report(transaction: str, verdict: Any, ae_title: str) -> Dataset:
    report = Dataset()
    report.TransactionUID = transaction
    report.RetrieveAETitle = ae_title
    if verdict.committed:
        report.ReferencedSOPSequence = [
            _reference(r.sop_class_uid, r.sop_instance_uid) for r in verdict.committed
        ]
    if verdict.failed:
        failed = []
        for r, reason in verdict.failed:
            item = _reference(r.sop_class_uid, r.sop_instance_uid)
            item.FailureReason = reason
            failed.append(item)
        report.FailedSOPSequence = failed
    return report


def _reference(sop_class: str, sop_instance: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    return item
