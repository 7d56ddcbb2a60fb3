"""The Print SCU: one film session on a laser imager over DICOM Print Management (PS3.4 H).

One association proposing the Basic Grayscale (or Color) Print Management Meta SOP Class, then:
Printer N-GET (status and status info: a printer that answers FAILURE is not sent to), Film
Session N-CREATE (copies, medium, destination, priority), Film Box N-CREATE (display format,
film size, orientation, magnification, densities), an Image Box N-SET per filled box
(Preformatted Grayscale Image Sequence, 8 or 12 bits; Color: RGB 8 bits), Film Box N-ACTION
print, Film Session N-DELETE. N-EVENT-REPORTs the printer sends meanwhile (Printer WARNING /
FAILURE with Printer Status Info such as NO FILM, FILM JAM, TONER LOW; Print Job states) are
answered and collected; a FAILURE event fails the session with its reason.

Errors are :class:`PrinterError` with ``reason`` (the printer's Printer Status Info, or
``UNREACHABLE``, ``REJECTED``, ``REFUSED``...): the print jobs decide what to retry.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import (
    BasicColorImageBox,  # type: ignore[attr-defined]
    BasicColorPrintManagementMeta,  # type: ignore[attr-defined]
    BasicFilmBox,  # type: ignore[attr-defined]
    BasicFilmSession,  # type: ignore[attr-defined]
    BasicGrayscaleImageBox,  # type: ignore[attr-defined]
    BasicGrayscalePrintManagementMeta,  # type: ignore[attr-defined]
    Printer,  # type: ignore[attr-defined]
    PrinterInstance,  # type: ignore[attr-defined]
)

from core_server import clock
from core_server.film.sheet import FilmSheet, ImageBox

log = logging.getLogger(__name__)

TIMEOUT = 30.0  # seconds for the connection, each answer and the association
PRINTER_STATUS = 0x2110_0010
PRINTER_STATUS_INFO = 0x2110_0020
PRINTER_NAME = 0x2110_0030
EVENT_NAMES = {
    Printer: {1: "NORMAL", 2: "WARNING", 3: "FAILURE"},
    "1.2.840.10008.5.1.1.14": {1: "PENDING", 2: "PRINTING", 3: "DONE", 4: "FAILURE"},
}


class PrinterError(Exception):
    """A film session that did not print: ``reason`` is a short code (the printer's Printer
    Status Info when it gave one), ``detail`` what happened, for the log and the job."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.state: PrinterState | None = None  # what the printer said before it failed


@dataclass(frozen=True)
class Destination:
    """Where to print: the imager's AE and what the film session asks for."""

    ae_title: str
    host: str
    port: int
    calling_ae: str = "PACS_FILM"
    medium: str = "BLUE FILM"
    destination: str = "PROCESSOR"
    priority: str = "MED"


@dataclass
class PrinterState:
    """What the printer said: its last N-GET and the events it sent during a session."""

    status: str = ""  # NORMAL, WARNING, FAILURE
    status_info: str = ""  # e.g. NORMAL, NO FILM, FILM JAM, TONER LOW
    name: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "status_info": self.status_info,
            "name": self.name,
            "events": self.events,
        }


def _nodelay(event: evt.Event) -> None:
    # Nagle would hold each small DIMSE message for up to 40 ms.
    sock = getattr(event.assoc.dul, "socket", None)
    raw = getattr(sock, "socket", None)
    if raw is not None:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _meta(color: bool) -> str:
    return str(BasicColorPrintManagementMeta if color else BasicGrayscalePrintManagementMeta)


class _Session:
    """One association with the printer and what it reported."""

    def __init__(self, to: Destination, color: bool) -> None:
        self.to = to
        self.color = color
        self.meta = _meta(color)
        self.state = PrinterState()
        self.assoc: Association | None = None

    def __enter__(self) -> _Session:
        ae = AE(ae_title=self.to.calling_ae)
        ae.add_requested_context(self.meta)
        for name in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
            setattr(ae, name, TIMEOUT)
        handlers = [(evt.EVT_CONN_OPEN, _nodelay), (evt.EVT_N_EVENT_REPORT, self._on_event)]
        try:
            assoc = ae.associate(
                self.to.host, self.to.port, ae_title=self.to.ae_title, evt_handlers=handlers
            )
        except OSError as exc:
            raise PrinterError("UNREACHABLE", str(exc)) from exc
        if not assoc.is_established:
            reason = "REJECTED" if assoc.is_rejected else "UNREACHABLE"
            raise PrinterError(reason, f"{self.to.ae_title}@{self.to.host}:{self.to.port}")
        if not any(c.abstract_syntax == self.meta for c in assoc.accepted_contexts):
            assoc.release()
            raise PrinterError("NOT_SUPPORTED", "Color" if self.color else "Grayscale")
        self.assoc = assoc
        return self

    def __exit__(self, *_: object) -> None:
        if self.assoc is not None and self.assoc.is_established:
            self.assoc.release()

    def _on_event(self, event: evt.Event) -> tuple[int, None]:
        """The printer's N-EVENT-REPORT: recorded; answered Success."""
        request = event.request
        cls = str(request.AffectedSOPClassUID)
        type_id = int(request.EventTypeID or 0)
        info = event.event_information
        status_info = str(info.get("PrinterStatusInfo", "")) if info is not None else ""
        name = EVENT_NAMES.get(cls, {}).get(type_id, str(type_id))
        kind = "printer" if cls == str(Printer) else "print_job"
        self.state.events.append(
            {"at": clock.iso(clock.now()), "kind": kind, "event": name, "info": status_info}
        )
        if kind == "printer":
            self.state.status, self.state.status_info = name, status_info or name
        return 0x0000, None

    def _assoc(self) -> Association:
        if self.assoc is None or not self.assoc.is_established:
            raise PrinterError("ABORTED", "the printer closed the association")
        return self.assoc

    def _check(self, what: str, status: Dataset) -> None:
        code = int(getattr(status, "Status", 0xFFFF)) if status else 0xFFFF
        if code == 0xFFFF and not status:
            raise PrinterError("NO_ANSWER", what)
        if code not in (0x0000, 0x0001, 0xB600, 0xB602, 0xB603, 0xB604, 0xB605, 0x0107, 0x0116):
            if self.state.status == "FAILURE":
                raise PrinterError(self.state.status_info or "FAILURE", f"{what}: 0x{code:04X}")
            raise PrinterError("REFUSED", f"{what}: status 0x{code:04X}")
        if code != 0x0000:
            log.info("printer %s: %s answered warning 0x%04X", self.to.ae_title, what, code)

    def printer_status(self) -> PrinterState:
        status, attrs = self._assoc().send_n_get(
            [PRINTER_STATUS, PRINTER_STATUS_INFO],  # Printer Name: optional, dcmprscp refuses it
            Printer,
            PrinterInstance,
            meta_uid=self.meta,
        )
        self._check("Printer N-GET", status)
        if attrs is not None:
            self.state.status = str(attrs.get("PrinterStatus", "") or "")
            self.state.status_info = str(attrs.get("PrinterStatusInfo", "") or "")
            self.state.name = str(attrs.get("PrinterName", "") or "")
        return self.state

    def print_sheet(self, sheet: FilmSheet, copies: int) -> None:
        assoc = self._assoc()
        session = Dataset()
        session.NumberOfCopies = str(copies)
        session.MediumType = self.to.medium
        session.FilmDestination = self.to.destination
        session.PrintPriority = self.to.priority
        # The SCU names the instances (allowed by PS3.4 H.4): pynetdicom's answer does not
        # hand over the Affected SOP Instance UID an SCP would choose.
        session_uid, box_uid = generate_uid(), generate_uid()
        status, _ = assoc.send_n_create(session, BasicFilmSession, session_uid, meta_uid=self.meta)
        self._check("Film Session N-CREATE", status)
        box = _film_box(sheet, session_uid)
        status, film_box = assoc.send_n_create(box, BasicFilmBox, box_uid, meta_uid=self.meta)
        self._check("Film Box N-CREATE", status)
        if film_box is None or "ReferencedImageBoxSequence" not in film_box:
            raise PrinterError("REFUSED", "Film Box N-CREATE returned no image boxes")
        image_boxes = film_box.ReferencedImageBoxSequence
        image_class = BasicColorImageBox if self.color else BasicGrayscaleImageBox
        by_position = {i.position: i for i in sheet.images}
        for position, reference in enumerate(image_boxes, start=1):
            image = by_position.get(position)
            if image is None:
                continue
            status, _ = assoc.send_n_set(
                _image_box(image, position, self.color),
                image_class,
                reference.ReferencedSOPInstanceUID,
                meta_uid=self.meta,
            )
            self._check(f"Image Box {position} N-SET", status)
        status, _ = assoc.send_n_action(None, 1, BasicFilmBox, box_uid, meta_uid=self.meta)
        self._check("Film Box N-ACTION", status)
        if self.state.status == "FAILURE":
            raise PrinterError(self.state.status_info or "FAILURE", "printer event")
        delete_status = assoc.send_n_delete(BasicFilmSession, session_uid, meta_uid=self.meta)
        if int(getattr(delete_status, "Status", 0)) != 0:
            log.info("printer %s kept its film session (N-DELETE refused)", self.to.ae_title)


def _film_box(sheet: FilmSheet, session_uid: str) -> Dataset:
    box = Dataset()
    box.ImageDisplayFormat = sheet.display_format
    box.FilmOrientation = sheet.orientation
    box.FilmSizeID = sheet.film_size
    box.MagnificationType = sheet.magnification
    box.BorderDensity = sheet.border_density
    box.EmptyImageDensity = sheet.empty_image_density
    reference = Dataset()
    reference.ReferencedSOPClassUID = BasicFilmSession
    reference.ReferencedSOPInstanceUID = session_uid
    box.ReferencedFilmSessionSequence = [reference]
    return box


def _image_box(image: ImageBox, position: int, color: bool) -> Dataset:
    """The N-SET of one image box: Preformatted Grayscale (8 or 12 bits) or Color (RGB)."""
    pixels = image.pixels
    item = Dataset()
    item.Rows, item.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    item.PixelAspectRatio = [1, 1]
    item.PixelRepresentation = 0
    if color:
        rgb = pixels if pixels.ndim == 3 else np.stack([pixels] * 3, axis=-1)
        item.SamplesPerPixel = 3
        item.PhotometricInterpretation = "RGB"
        item.PlanarConfiguration = 1
        item.BitsAllocated, item.BitsStored, item.HighBit = 8, 8, 7
        item.PixelData = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    else:
        twelve = image.bits_stored > 8
        item.SamplesPerPixel = 1
        item.PhotometricInterpretation = (
            image.photometric if image.photometric != "RGB" else "MONOCHROME2"
        )
        item.BitsAllocated = 16 if twelve else 8
        item.BitsStored = 12 if twelve else 8
        item.HighBit = item.BitsStored - 1
        dtype = np.uint16 if twelve else np.uint8
        item.PixelData = np.ascontiguousarray(pixels, dtype=dtype).tobytes()
    ds = Dataset()
    ds.ImageBoxPosition = position
    if image.polarity != "NORMAL":
        ds.Polarity = image.polarity
    if image.magnification:
        ds.MagnificationType = image.magnification
    if color:
        ds.BasicColorImageSequence = [item]
    else:
        ds.BasicGrayscaleImageSequence = [item]
    return ds


def query_printer(to: Destination, *, color: bool = False) -> PrinterState:
    """The printer's status by N-GET alone (the admin page's "check now")."""
    with _Session(to, color) as session:
        return session.printer_status()


def print_film(to: Destination, sheet: FilmSheet, copies: int) -> PrinterState:
    """Print ``copies`` of ``sheet``; the printer's state as it last reported it. Raises
    :class:`PrinterError` (with the printer's reason) when it did not print."""
    with _Session(to, sheet.color) as session:
        try:
            state = session.printer_status()
            if state.status == "FAILURE":
                raise PrinterError(state.status_info or "FAILURE", "printer status by N-GET")
            session.print_sheet(sheet, copies)
        except PrinterError as exc:
            exc.state = session.state
            raise
        return session.state
