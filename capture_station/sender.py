"""The background sender: stores each spooled capture with C-STORE (pynetdicom, TCP no-delay)
to the core's AE and tells its MPPS steps, on one association kept while there is work.

A capture is marked sent only on a success (or warning) status; anything else keeps it and
the sender tries again with exponential back-off. The SOP Instance UID was fixed when it was
taken, so a resend after a crash is the same object (the archive keeps one). While the core is
unreachable the station goes on capturing; the screen shows how many wait.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import ModalityPerformedProcedureStep

from capture_station import mpps
from capture_station.contract import Capture, StationIdentity
from capture_station.spool import CaptureSpool, Step

log = logging.getLogger(__name__)

STORAGE_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.77.1.1",  # VL Endoscopic Image
    "1.2.840.10008.5.1.4.1.1.77.1.1.1",  # Video Endoscopic Image
    "1.2.840.10008.5.1.4.1.1.77.1.4",  # VL Photographic Image
    "1.2.840.10008.5.1.4.1.1.77.1.4.1",  # Video Photographic Image
    "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
    "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image
)
TRANSFER_SYNTAXES = (
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.100",  # MPEG2
    "1.2.840.10008.1.2.4.102",  # MPEG-4 AVC/H.264 High Profile / Level 4.1
    "1.2.840.10008.1.2.4.103",  # ... BD-compatible
    "1.2.840.10008.1.2.4.104",  # ... High Profile / Level 4.2 for 2D video
    "1.2.840.10008.1.2.4.105",  # ... for 3D video
    "1.2.840.10008.1.2.4.106",  # ... Stereo
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
)
# 0x0000 success; 0xB000, 0xB006, 0xB007 warnings: stored all the same.
STORED = {0x0000, 0xB000, 0xB006, 0xB007}
MAX_STEP_ATTEMPTS = 8  # an MPPS step refused this often is dropped (logged): the RIS moves by hand

BuildDataset = Callable[[Capture, Path], Dataset]


@dataclass(frozen=True)
class Peer:
    host: str
    port: int
    ae_title: str
    timeout: float = 10.0


class StoreFailed(RuntimeError):
    pass


def _nodelay(event: evt.Event) -> None:
    sock = event.assoc.dul.socket.socket if event.assoc.dul.socket else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Sender:
    def __init__(
        self,
        spool: CaptureSpool,
        station: StationIdentity,
        peer: Peer,
        build: BuildDataset,
        min_delay: float = 1.0,
        max_delay: float = 30.0,
        idle_release: float = 5.0,
    ) -> None:
        self.spool = spool
        self.station = station
        self.peer = peer
        self.build = build
        self.min_delay, self.max_delay = min_delay, max_delay
        self.idle_release = idle_release
        self.online = True
        self.last_error = ""
        self._sent: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._assoc: Any = None
        self._ae = AE(ae_title=station.ae_title)
        self._ae.acse_timeout = self._ae.dimse_timeout = self._ae.network_timeout = peer.timeout
        # One context per class and syntax: a peer accepting several syntaxes of one context
        # would pick one, maybe not the object's (7 x 9 + 1 of the 128 contexts allowed).
        for uid in STORAGE_CLASSES:
            for syntax in TRANSFER_SYNTAXES:
                self._ae.add_requested_context(uid, syntax)
        self._ae.add_requested_context(ModalityPerformedProcedureStep)

    # -- the main loop's side ------------------------------------------------------------

    def start(self) -> Sender:
        self._thread = threading.Thread(target=self._run, name="capture-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.peer.timeout + 5)
        self._release()

    def wake(self) -> None:
        """Something new to send: go now instead of at the end of a back-off."""
        self._wake.set()

    def take_sent(self) -> frozenset[str]:
        """The captures stored since the last call."""
        with self._lock:
            sent, self._sent = frozenset(self._sent), set()
        return sent

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.min_delay
        while not self._stop.is_set():
            try:
                worked = self.send_pending()
            except Exception as error:  # a lost network, a refused association, a bug
                self._failed(error)
                self._wake.wait(delay)
                self._wake.clear()
                delay = min(self.max_delay, delay * 2)
                continue
            delay = self.min_delay
            if not worked:
                if not self._wake.wait(self.idle_release):
                    self._release()
                self._wake.clear()

    def send_pending(self) -> bool:
        """One round: MPPS creations, every unsent capture, MPPS ends whose captures are all
        stored. True when something was sent. Raises on a failure (the caller backs off)."""
        steps = self.spool.steps()
        captures = self.spool.unsent()
        if not steps and not captures:
            return False
        for step in steps:
            if not step.created:
                self._step(step, mpps.send_create, created=True)
        for capture in captures:
            self._store(capture)
        waiting = {c.exam.accession_number for c in self.spool.unsent()}
        for step in self.spool.steps():
            if step.created and step.end_status and step.exam.accession_number not in waiting:
                self._step(step, mpps.send_set, done=True)
        self.online, self.last_error = True, ""
        return True

    def _store(self, taken: Capture) -> None:
        with self.spool.sending(taken.key) as capture:
            if capture is None:  # deleted or sent meanwhile
                return
            dataset = self.build(capture, self.spool.path(capture))
            status = self._association().send_c_store(dataset)
            code = int(getattr(status, "Status", -1))
            if code not in STORED:
                self.spool.failed(capture.key, f"C-STORE status 0x{code & 0xFFFF:04X}")
                self._release()
                raise StoreFailed(f"C-STORE of {capture.key}: status 0x{code & 0xFFFF:04X}")
            self.spool.mark_sent(capture.key)
            self.online, self.last_error = True, ""  # the screen's count and state agree
        with self._lock:
            self._sent.add(taken.key)
        log.info("stored %s (%s)", taken.key, taken.sop_instance_uid)

    def _step(self, step: Step, send: Callable[..., None], **done: bool) -> None:
        try:
            send(self._association(), step, self.station)
        except mpps.StepRefused as refused:
            step.attempts += 1
            if step.attempts >= MAX_STEP_ATTEMPTS:
                log.error("%s: given up after %d attempts", refused, step.attempts)
                step.done = True
                self.spool.save_step(step)
                return
            self.spool.save_step(step)
            raise
        for name, value in done.items():
            setattr(step, name, value)
        self.spool.save_step(step)

    def _association(self) -> Any:
        if self._assoc is not None and self._assoc.is_established:
            return self._assoc
        assoc = self._ae.associate(
            self.peer.host,
            self.peer.port,
            ae_title=self.peer.ae_title,
            evt_handlers=[(evt.EVT_CONN_OPEN, _nodelay)],
        )
        if not assoc.is_established:
            raise ConnectionError(
                f"no association with {self.peer.ae_title}@{self.peer.host}:{self.peer.port}"
            )
        self._assoc = assoc
        return assoc

    def _release(self) -> None:
        assoc, self._assoc = self._assoc, None
        if assoc is not None and assoc.is_established:
            try:
                assoc.release()
            except Exception:  # the peer went away: nothing left to release
                log.debug("release failed", exc_info=True)

    def _failed(self, error: Exception) -> None:
        if self.online:
            log.warning("sending stopped: %s", error)
        self.online, self.last_error = False, str(error)
        self._release()
