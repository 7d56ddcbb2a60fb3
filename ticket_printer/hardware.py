"""The kiosk's hardware: the ESC/POS ticket printer (python-escpos over USB, serial, network or
a device file) behind a small interface with a recording fake. The barcode / ID-card readers
are the device kit's (``device_kit.readers``), shared with the disc kiosk.

Chinese on the ticket, two ways (``chinese`` setting):
- ``fs_and``: text as GB18030 bytes between ``FS &`` (Chinese character mode on) and ``FS .``
  (off). python-escpos cannot do this itself: ``text()`` sends the bytes without ``FS &`` and
  ``charcode('GB18030')`` raises. Fast, sharp, needs a printer with a Chinese font (most sold
  in China).
- ``raster``: the ticket's text drawn with WenQuanYi into an image sent with ``GS v 0``: any
  printer, any character, slower.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from device_kit.drivers import Availability, HardwareError, Needs

log = logging.getLogger(__name__)

FS_CHINESE_ON = b"\x1c\x26"  # FS &
FS_CHINESE_OFF = b"\x1c\x2e"  # FS .
ESC_INIT = b"\x1b\x40"  # ESC @
GS_V_0 = b"\x1d\x76\x30"  # GS v 0: raster bit image
GS_CHAR_SIZE = b"\x1d\x21"  # GS ! n: character size


class TicketPrinter(Protocol):
    name: str

    def is_available(self) -> Availability: ...

    def paper(self) -> str:
        """ "ok", "low" or "out" (printers that cannot say answer "ok");
        HardwareError("printer_offline") when the printer cannot be reached."""
        ...

    def print_ticket(self, ticket: Mapping[str, Any]) -> None:
        """Print one ticket; HardwareError("paper_out" | "printer_offline") if it did not."""
        ...


# -- composing a ticket (any escpos printer object, Dummy in tests) -----------------------


@dataclass(frozen=True)
class TicketText:
    """The lines of a ticket in print order; ``big`` ones are printed large."""

    hospital: str
    queue: str
    number: str
    lines: list[str]
    qr: str


def ticket_text(ticket: Mapping[str, Any], language: str = "zh") -> TicketText:
    zh = language == "zh"
    queue = str(ticket.get("queue_name") or ticket.get("queue") or "")
    if ticket.get("department"):
        queue = f"{ticket['department']} {queue}"
    issued = str(ticket.get("issued_at") or "")
    try:
        when = datetime.fromisoformat(issued).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        when = issued
    ahead = int(ticket.get("waiting_ahead") or 0)
    rooms = "、".join(ticket.get("rooms") or [])
    lines = [
        # The core sends the name masked already (张*丰): tickets are public.
        ("姓名：" if zh else "Name: ") + str(ticket.get("name") or ""),
        ("检查：" if zh else "Exam: ") + str(ticket.get("exam") or ""),
        (f"前面还有 {ahead} 人等候" if zh else f"{ahead} waiting before you"),
    ]
    if rooms:
        lines.append(("检查室：" if zh else "Room: ") + rooms)
    lines += [
        ("取号时间：" if zh else "Time: ") + when,
        "请留意叫号，过号请到分诊台" if zh else "Listen for your number; if missed, see the desk",
    ]
    return TicketText(
        hospital=str(ticket.get("hospital_name") or ""),
        queue=queue,
        number=str(ticket.get("number") or ""),
        lines=lines,
        qr=str(ticket.get("qr_text") or ticket.get("accession") or ticket.get("number") or ""),
    )


def chinese_bytes(text: str) -> bytes:
    """``FS &`` + GB18030 + ``FS .``; plain ASCII needs no Chinese mode."""
    if text.isascii():
        return text.encode("ascii")
    return FS_CHINESE_ON + text.encode("gb18030") + FS_CHINESE_OFF


def compose_fs_and(printer: Any, text: TicketText, qr_native: bool = False) -> None:
    printer._raw(ESC_INIT)
    printer.set(align="center", bold=True, double_height=True, double_width=True)
    printer._raw(chinese_bytes(text.hospital) + b"\n")
    printer.set(align="center", bold=False, normal_textsize=True)
    printer._raw(chinese_bytes(text.queue) + b"\n\n")
    printer._raw(GS_CHAR_SIZE + b"\x33")  # 4x width and height for the number
    printer._raw(chinese_bytes(text.number) + b"\n")
    printer._raw(GS_CHAR_SIZE + b"\x00")
    printer.set(align="left", normal_textsize=True)
    for line in text.lines:
        printer._raw(chinese_bytes(line) + b"\n")
    if text.qr:
        printer.qr(text.qr, size=6, native=qr_native, center=True)
    printer.cut()


def compose_raster(printer: Any, text: TicketText, width: int, font: Path | None) -> None:
    printer._raw(ESC_INIT)
    printer.image(render_ticket(text, width, font), impl="bitImageRaster", center=True)
    if text.qr:
        printer.qr(text.qr, size=6, native=False, center=True)
    printer.cut()


def render_ticket(text: TicketText, width: int, font: Path | None = None) -> Any:
    """The ticket's text as a 1-bit PIL image ``width`` dots wide (WenQuanYi)."""
    from PIL import Image, ImageDraw, ImageFont

    from device_kit.fonts import cjk_font

    path = str(cjk_font(font))
    big, medium, small = (ImageFont.truetype(path, s) for s in (44, 30, 26))
    number = ImageFont.truetype(path, 110)
    rows: list[tuple[str, Any, bool]] = [
        (text.hospital, big, True),
        (text.queue, medium, True),
        (text.number, number, True),
        *((line, small, False) for line in text.lines),
    ]
    heights = [f.getbbox(t or " ")[3] + 14 for t, f, _ in rows]
    image = Image.new("1", (width, sum(heights) + 10), 1)
    draw = ImageDraw.Draw(image)
    y = 5
    for (line, font_, centred), height in zip(rows, heights, strict=True):
        x = (width - draw.textlength(line, font=font_)) / 2 if centred else 8
        draw.text((max(0, x), y), line, font=font_, fill=0)
        y += height
    return image


# -- the real printer ------------------------------------------------------------------------


class EscposPrinter:
    """``connection``: ``usb:VID:PID`` (hex), ``serial:/dev/ttyUSB0[:baud]``,
    ``network:host[:port]`` or ``file:/dev/usb/lp0`` (the kernel's usblp device)."""

    def __init__(
        self,
        connection: str,
        chinese: str = "fs_and",
        profile: str = "TM-T88III",
        paper_width_dots: int = 512,
        font: Path | None = None,
        language: str = "zh",
        ask_status: bool = True,
    ) -> None:
        if chinese not in ("fs_and", "raster"):
            raise ValueError(f"chinese must be fs_and or raster, not {chinese!r}")
        self.kind, _, self.target = connection.partition(":")
        if self.kind not in ("usb", "serial", "network", "file") or not self.target:
            raise ValueError(
                f"printer connection {connection!r}: use usb:VID:PID, serial:/dev/ttyX[:baud], "
                "network:host[:port] or file:/dev/usb/lp0"
            )
        self.connection = connection
        self.name = f"ticket printer {connection}"
        self.chinese = chinese
        self.profile = profile
        self.paper_width_dots = paper_width_dots
        self.font = font
        self.language = language
        self.ask_status = ask_status

    def is_available(self) -> Availability:
        needs = Needs("ticket printer").module("escpos", "python-escpos")
        if self.kind == "usb":
            needs.module("usb", "pyusb")
        elif self.kind == "serial":
            needs.module("serial", "pyserial").device(self.target.split(":")[0])
        elif self.kind == "file":
            needs.device(self.target)
        if self.chinese == "raster":
            needs.module("PIL", "Pillow")
        return needs.result()

    def _open(self) -> Any:
        from escpos import printer

        options: dict[str, Any] = {"profile": self.profile}
        if self.kind == "usb":
            vendor, _, product = self.target.partition(":")
            device = printer.Usb(int(vendor, 16), int(product, 16), timeout=5000, **options)
        elif self.kind == "serial":
            port, _, baud = self.target.partition(":")
            device = printer.Serial(port, int(baud or 9600), timeout=5, **options)
        elif self.kind == "network":
            host, _, port = self.target.partition(":")
            device = printer.Network(host, int(port or 9100), timeout=10, **options)
        else:
            device = printer.File(self.target, **options)
        device.open()
        return device

    def _can_read_status(self) -> bool:
        # A device file is write-only; some printers never answer DLE EOT (ask_status off).
        return self.ask_status and self.kind in ("usb", "serial", "network")

    def paper(self) -> str:
        if not self._can_read_status():
            return "ok"
        device = self._connect()
        try:
            return {0: "out", 1: "low"}.get(device.paper_status(), "ok")
        except Exception as error:
            raise HardwareError("printer_offline", f"{self.connection}: {error}") from error
        finally:
            with contextlib.suppress(Exception):
                device.close()

    def _connect(self) -> Any:
        try:
            return self._open()
        except Exception as error:  # escpos raises its own types, OSError, usb errors...
            raise HardwareError("printer_offline", f"{self.connection}: {error}") from error

    def print_ticket(self, ticket: Mapping[str, Any]) -> None:
        if self.paper() == "out":
            raise HardwareError("paper_out", f"{self.connection}: no paper")
        device = self._connect()
        text = ticket_text(ticket, self.language)
        try:
            if self.chinese == "raster":
                compose_raster(device, text, self.paper_width_dots, self.font)
            else:
                compose_fs_and(device, text)
            with contextlib.suppress(AttributeError):
                device.flush()
        except Exception as error:
            raise HardwareError("printer_offline", f"{self.connection}: {error}") from error
        finally:
            with contextlib.suppress(Exception):
                device.close()
        # Paper that ran out during the ticket: the ticket is incomplete, print it again.
        if self.paper() == "out":
            raise HardwareError("paper_out", f"{self.connection}: paper ran out while printing")


@dataclass
class RecordingPrinter:
    """The fake: keeps the tickets; ``fail`` ("paper_out", "printer_offline") makes it fail."""

    name: str = "recording printer"
    printed: list[dict[str, Any]] = field(default_factory=list)
    fail: str | None = None
    low: bool = False

    def is_available(self) -> Availability:
        return Availability(self.name)

    def paper(self) -> str:
        if self.fail == "printer_offline":
            raise HardwareError("printer_offline", "fake printer offline")
        return "out" if self.fail == "paper_out" else "low" if self.low else "ok"

    def print_ticket(self, ticket: Mapping[str, Any]) -> None:
        if self.fail:
            raise HardwareError(self.fail, f"fake printer: {self.fail}")
        self.printed.append(dict(ticket))
