"""Printers for the film tests: dcmtk's ``dcmprscp`` (a real Print SCP that stores what it gets)
and a small pynetdicom Print SCP of our own that can run out of film."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    BasicFilmBox,  # type: ignore[attr-defined]
    BasicFilmSession,  # type: ignore[attr-defined]
    BasicGrayscaleImageBox,  # type: ignore[attr-defined]
    BasicGrayscalePrintManagementMeta,  # type: ignore[attr-defined]
    Printer,  # type: ignore[attr-defined]
    PrinterInstance,  # type: ignore[attr-defined]
)

from core_server.film.sheet import layout
from tests.conftest import free_port

DCMPSTAT_CFG = """[[GENERAL]]
[PRINT]
Spooler = dcmprscu
Server = dcmprscp
Directory = {spool}
DetailedLog = false
BinaryLog = false
[DATABASE]
Directory = {database}
[[COMMUNICATION]]
[TESTPRINTER]
Aetitle = TESTPRINTER
Description = test print SCP
Hostname = localhost
Port = {port}
Type = LOCALPRINTER
BorderDensity = BLACK\\WHITE
DisableNewVRs = false
DisplayFormat = 1,1\\1,2\\2,1\\2,2\\3,3
EmptyImageDensity = BLACK\\WHITE
FilmDestination = MAGAZINE\\PROCESSOR
FilmSizeID = 8INX10IN\\10INX12IN\\14INX14IN\\14INX17IN
ImplicitOnly = false
MagnificationType = REPLICATE\\BILINEAR\\CUBIC\\NONE
MaxDensity = 320
MaxPDU = 32768
MediumType = PAPER\\CLEAR FILM\\BLUE FILM
MinDensity = 20
OmitSOPClassUIDFromCreateResponse = false
PresentationLUTMatchRequired = false
PresentationLUTinFilmSession = false
Supports12Bit = true
SupportsPresentationLUT = false
"""


def _wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError("dcmprscp stopped")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("dcmprscp did not listen")


@contextmanager
def dcmprscp(folder: Path) -> Iterator[tuple[int, Path]]:
    """dcmtk's Print SCP on a free port; yields (port, the folder it stores prints in)."""
    port = free_port()
    database = folder / "database"
    for sub in (database, folder / "spool"):
        sub.mkdir(parents=True, exist_ok=True)
    config = folder / "dcmpstat.cfg"
    config.write_text(
        DCMPSTAT_CFG.format(spool=folder / "spool", database=database, port=port), "ascii"
    )
    process = subprocess.Popen(
        ["dcmprscp", "-c", str(config), "-p", "TESTPRINTER"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"},
    )
    try:
        _wait_port(port, process)
        yield port, database
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class OwnPrinter:
    """A pynetdicom Print SCP: records what it got; ``out_of_film`` says NO FILM by N-GET
    status (``"status"``) or by an N-EVENT-REPORT during the print (``"event"``)."""

    out_of_film: str = ""
    sessions: list[Dataset] = field(default_factory=list)
    film_boxes: list[Dataset] = field(default_factory=list)
    image_boxes: list[Dataset] = field(default_factory=list)
    printed: int = 0

    def handlers(self) -> list[Any]:
        return [
            (evt.EVT_N_GET, self._get),
            (evt.EVT_N_CREATE, self._create),
            (evt.EVT_N_SET, self._set),
            (evt.EVT_N_ACTION, self._action),
            (evt.EVT_N_DELETE, lambda e: 0x0000),
        ]

    def _get(self, event: evt.Event) -> tuple[int, Dataset]:
        ds = Dataset()
        failing = self.out_of_film == "status"
        ds.PrinterStatus = "FAILURE" if failing else "NORMAL"
        ds.PrinterStatusInfo = "NO FILM" if failing else "NORMAL"
        return 0x0000, ds

    def _create(self, event: evt.Event) -> tuple[int, Dataset]:
        request = event.request
        ds = event.attribute_list
        ds.SOPInstanceUID = request.AffectedSOPInstanceUID or generate_uid()
        if request.AffectedSOPClassUID == BasicFilmSession:
            self.sessions.append(ds)
            return 0x0000, ds
        self.film_boxes.append(ds)
        boxes = []
        for _ in layout(str(ds.ImageDisplayFormat), 100, 100):
            reference = Dataset()
            reference.ReferencedSOPClassUID = BasicGrayscaleImageBox
            reference.ReferencedSOPInstanceUID = generate_uid()
            boxes.append(reference)
        ds.ReferencedImageBoxSequence = boxes
        return 0x0000, ds

    def _set(self, event: evt.Event) -> tuple[int, Dataset]:
        self.image_boxes.append(event.modification_list)
        return 0x0000, Dataset()

    def _action(self, event: evt.Event) -> tuple[int, None]:
        if self.out_of_film == "event":
            info = Dataset()
            info.PrinterStatusInfo = "NO FILM"
            event.assoc.send_n_event_report(
                info, 3, Printer, PrinterInstance, meta_uid=BasicGrayscalePrintManagementMeta
            )
            return 0x0000, None  # accepted, but the printer has just failed
        self.printed += 1
        return 0x0000, None


@contextmanager
def own_printer(printer: OwnPrinter) -> Iterator[int]:
    ae = AE(ae_title="OWNPRINTER")
    ae.add_supported_context(BasicGrayscalePrintManagementMeta)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=printer.handlers())
    try:
        yield port
    finally:
        server.shutdown()


__all__ = ["BasicFilmBox", "OwnPrinter", "dcmprscp", "own_printer"]
