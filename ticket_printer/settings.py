"""The check-in kiosk's options (file /etc/imaging/ticket-printer.toml or
TICKET_PRINTER_CONFIG, variables TICKET_PRINTER_<OPTION>)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from device_kit.config import ScreenSettings


class Settings(ScreenSettings):
    model_config = SettingsConfigDict(env_prefix="TICKET_PRINTER_", extra="forbid")
    program: ClassVar[str] = "ticket-printer"

    state_dir: Path = Field(
        Path("/var/lib/ticket-printer"), description="Enrolment key and the print jobs on disk"
    )
    hospital_name: str = Field("", description="Header until the core first names the hospital")
    printer: str = Field(
        "file:/dev/usb/lp0",
        description="usb:VID:PID, serial:/dev/ttyUSB0[:baud], network:host[:port] "
        "or file:/dev/usb/lp0",
    )
    printer_profile: str = Field("TM-T88III", description="python-escpos printer profile")
    chinese: str = Field(
        "fs_and",
        pattern="^(fs_and|raster)$",
        description="fs_and: GB18030 text with FS &; raster: the ticket drawn as an image (GS v 0)",
    )
    printer_status: bool = Field(
        True,
        description="Ask the printer for paper/online status (DLE EOT) before and after each "
        "ticket; off for printers that never answer",
    )
    paper_width_dots: int = Field(512, ge=200, description="Printable width for raster (dots)")
    scanner: str = Field(
        "evdev", pattern="^(evdev|serial)$", description="Barcode/ID-card reader: evdev or serial"
    )
    scanner_device: str = Field(
        "", description="evdev event device, or serial port / pyserial URL, of the reader"
    )
    scanner_baudrate: int = Field(9600, description="Serial reader speed")
    show_seconds: float = Field(15.0, gt=0, description="Seconds a ticket stays on screen")
    retry_print_seconds: float = Field(5.0, gt=0, description="Retry interval of unprinted tickets")
    printer_check_seconds: float = Field(30.0, gt=0, description="Paper/online check interval")

    @property
    def jobs_file(self) -> Path:
        return self.state_dir / "print-jobs.sqlite"
