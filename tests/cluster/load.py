"""The load a hospital puts on the cluster, each sender behaving as its real counterpart does
after a failure: a modality opens a new association and sends again what was not confirmed,
a HIS resends an unacknowledged message (same control ID), a caller resends its press with the
same Idempotency-Key, a screen reconnects and resumes from the last event it saw."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import hl7.mllp
import httpx
from pydicom import Dataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from tests.core_server.hl7.mllp import HisListener, ack_fields, message, send
from tests.core_server.hl7.test_inbound import msh, pid, segment
from tests.dicom_data import make_ct

RETRY_PAUSE = 0.2  # between a failure and the next attempt (a modality waits longer)


class Sender(threading.Thread):
    """A load thread: :meth:`step` until stopped; ``failures`` counts retried attempts."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopping = threading.Event()
        self.failures = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.step()
        except BaseException as exc:  # reported by the test, not lost in a thread
            self.error = exc

    def step(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()
        self.join(120)
        assert not self.is_alive(), f"{self.name} did not finish"
        if self.error is not None:
            raise self.error


class Modality(Sender):
    """C-STORE through HAProxy, up to ``per_association`` objects per association; an
    object counts as stored only when its C-STORE answered Success (0x0000)."""

    def __init__(
        self, name: str, host: str, port: int, per_association: int = 5, pause: float = 0.05
    ) -> None:
        super().__init__(name)
        self.host, self.port, self.per_association = host, port, per_association
        self.pause = pause  # between objects: a modality's pace, leaving CPU to the rest
        self.ae = AE(ae_title=name[:16])
        self.ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
        self.ae.acse_timeout = self.ae.dimse_timeout = self.ae.network_timeout = 30
        self.study_uid = generate_uid()
        self.stored: list[str] = []
        self.pending: list[Any] = []
        self.made = 0

    def _next(self) -> Any:
        if not self.pending:
            self.made += 1
            ds = make_ct(
                patient_id=f"PT-{self.name}",
                study_uid=self.study_uid,
                accession=f"ACC-{self.name}",
                instance_number=self.made,
            )
            self.pending.append(ds)
        return self.pending[0]

    def step(self) -> None:
        assoc = self.ae.associate(self.host, self.port, ae_title="PACS")
        if not assoc.is_established:
            self.failures += 1
            time.sleep(RETRY_PAUSE)
            return
        try:
            for _ in range(self.per_association):
                if self.stopping.is_set():
                    break
                ds = self._next()
                status = assoc.send_c_store(ds)
                if getattr(status, "Status", None) != 0x0000:
                    self.failures += 1  # aborted under us: sent again on a new association
                    return
                self.stored.append(ds.SOPInstanceUID)
                self.pending.pop(0)
                time.sleep(self.pause)
        finally:
            if assoc.is_established:
                assoc.release()
            else:
                time.sleep(RETRY_PAUSE)


def find_instances(host: str, port: int, study_uid: str) -> set[str]:
    """C-FIND at IMAGE level (study root): the SOP Instance UIDs the archive has for a study."""
    ae = AE(ae_title="CHECKER")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    query = Dataset()
    query.QueryRetrieveLevel = "IMAGE"
    query.StudyInstanceUID = study_uid
    query.SeriesInstanceUID = ""
    query.SOPInstanceUID = ""
    assoc = ae.associate(host, port, ae_title="PACS")
    assert assoc.is_established, "C-FIND association refused"
    found: set[str] = set()
    try:
        for status, identifier in assoc.send_c_find(
            query, StudyRootQueryRetrieveInformationModelFind
        ):
            assert status is not None and "Status" in status, "C-FIND aborted"
            if status.Status in (0xFF00, 0xFF01) and identifier is not None:
                found.add(str(identifier.SOPInstanceUID))
            else:
                assert status.Status == 0x0000, f"C-FIND status {status.Status:#06x}"
    finally:
        assoc.release()
    return found


class His(Sender):
    """ORM^O01 new orders over MLLP through HAProxy, each resent until its ACK is AA."""

    def __init__(self, name: str, host: str, port: int, deadline: float = 120) -> None:
        super().__init__(name)
        self.host, self.port, self.deadline = host, port, deadline
        self.acknowledged: list[tuple[str, str]] = []  # (control ID, accession)
        # AE "order exists already" to a resend: the dead node had applied the message but
        # not yet recorded its ACK (docs/cluster.md, "Failure"); the order is there, once.
        self.refused_as_existing: list[tuple[str, str]] = []
        self.count = 0
        self.suffix = ""  # of control IDs: the same order under a new ID (its test)

    def step(self) -> None:
        self.count += 1
        number = f"{self.name}-{self.count:04d}"
        accession, control_id = f"ACC{number}", f"C{number}{self.suffix}"
        order = message(
            msh("ORM^O01", control_id, version="2.3.1"),
            pid(f"P{number}", "韩^梅梅"),
            segment("ORC", {1: "NW", 2: f"PL{number}^HIS"}),
            segment("OBR", {1: "1", 2: f"PL{number}^HIS", 4: "US-ABD", 18: accession}),
        )
        until = time.monotonic() + self.deadline
        while time.monotonic() < until:
            try:
                (ack,) = send(self.port, order, host=self.host)
                fields = ack_fields(ack)
                if fields["code"] == "AA":
                    self.acknowledged.append((control_id, accession))
                    return
                if (
                    fields["code"] == "AE"
                    and f"PL{number}" in fields.get("err_text", "") + fields["text"]
                ):
                    self.refused_as_existing.append((control_id, accession))
                    return
            except (OSError, EOFError, TimeoutError, ValueError):
                pass  # the connection died with its node: resend the same message
            self.failures += 1
            time.sleep(RETRY_PAUSE)
        raise AssertionError(f"order {number} never acknowledged")


def retried(
    sender: Sender, client: httpx.Client, path: str, body: dict[str, Any]
) -> httpx.Response:
    """A POST resent with the same Idempotency-Key while the answer is lost (a node died:
    HAProxy's 502/503, or the connection)."""
    key = str(uuid.uuid4())
    until = time.monotonic() + 120
    while time.monotonic() < until:
        try:
            answer = client.post(path, json=body, headers={"Idempotency-Key": key})
            if answer.status_code not in (502, 503, 504):
                return answer
        except httpx.TransportError:
            pass
        sender.failures += 1
        time.sleep(RETRY_PAUSE)
    raise AssertionError(f"POST {path} never answered")


class Caller(Sender):
    """Checks in the HIS's orders and calls them into room US1 (queue calls over REST)."""

    def __init__(self, name: str, client: httpx.Client, his: His) -> None:
        super().__init__(name)
        self.client, self.his = client, his
        self.done = 0
        self.called: list[int] = []

    def step(self) -> None:
        if self.done >= len(self.his.acknowledged):
            time.sleep(0.05)
            return
        _, accession = self.his.acknowledged[self.done]
        answer = retried(self, self.client, "/api/queueing/check-in", {"accession": accession})
        assert answer.status_code in (200, 201), answer.text
        answer = retried(self, self.client, "/api/queueing/rooms/US1/call-next", {})
        assert answer.status_code == 200, answer.text
        self.called.append(answer.json()["ticket"]["id"])
        self.done += 1


@dataclass
class Display:
    """A waiting-room screen on /api/ws: the event numbers it saw; it reconnects with
    ``since`` (the feed replays what it missed) when its connection or node goes."""

    url: str
    key: str
    seen: list[int] = field(default_factory=list)
    first_seq: int | None = None
    reconnects: int = 0
    resyncs: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> Display:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _url(self) -> str:
        since = self.seen[-1] if self.seen else self.first_seq
        return self.url if since is None else f"{self.url}?since={since}"

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                headers = {"Authorization": f"Bearer {self.key}"}
                with connect(self._url(), additional_headers=headers, open_timeout=10) as ws:
                    self._receive(ws)
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
                pass
            if not self.stopping.is_set():
                self.reconnects += 1
                time.sleep(RETRY_PAUSE)

    def _receive(self, ws: Any) -> None:
        while not self.stopping.is_set():
            try:
                event = json.loads(ws.recv(timeout=0.5))
            except TimeoutError:
                continue
            if event["type"] == "hello":
                if self.first_seq is None:
                    self.first_seq = int(event["seq"])
            elif event["type"] == "resync":
                self.resyncs += 1
            elif "seq" in event and event["type"] != "pong":
                self.seen.append(int(event["seq"]))

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(30)


class HoldingHis(HisListener):
    """A HIS that leaves the first message it gets unanswered until its sender goes away (the
    connection closes: the sending node was killed), and answers every later one AA. The
    first sender's claim stays held meanwhile, so a test can kill the node that holds it."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = True

    async def _connected(
        self, reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter
    ) -> None:
        if not self.holding:
            await super()._connected(reader, writer)
            return
        self.holding = False
        try:
            block = await reader.readblock()
            with self._lock:
                self.received.append(block)
            await reader.read()  # until the sender's end closes: no answer from us
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
