"""The disc kiosk's options (file /etc/imaging/kiosk-burner.toml or KIOSK_BURNER_CONFIG,
variables KIOSK_BURNER_<OPTION>)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from device_kit.config import ScreenSettings


class Settings(ScreenSettings):
    model_config = SettingsConfigDict(env_prefix="KIOSK_BURNER_", extra="forbid")
    program: ClassVar[str] = "kiosk-burner"

    state_dir: Path = Field(
        Path("/var/lib/kiosk-burner"),
        description="Enrolment key, the job being burned and the disc images being built",
    )
    hospital_name: str = Field("", description="Header until the core first names the hospital")
    writer: str = Field(
        "iso",
        pattern="^(iso|xorriso|epson|primera)$",
        description="iso: ISO files only; xorriso: a local drive; epson: Epson TD Bridge hot "
        "folder; primera: Primera PTBurn hot folder",
    )
    iso_folder: Path = Field(
        Path("/var/lib/kiosk-burner/iso"), description="Where the iso writer leaves the images"
    )
    drive_device: str = Field(
        "/dev/sr0", description="The local drive (xorriso -outdev; stdio:FILE for tests)"
    )
    hot_folder: Path = Field(
        Path("/srv/disc-robot"), description="The robot's hot folder (epson, primera)"
    )
    medium: str = Field(
        "", pattern="^(|CD|DVD)$", description="Force CD or DVD; empty: chosen by size"
    )
    scanner: str = Field(
        "evdev", pattern="^(evdev|serial)$", description="Barcode/QR reader: evdev or serial"
    )
    scanner_device: str = Field(
        "", description="evdev event device, or serial port / pyserial URL, of the reader"
    )
    scanner_baudrate: int = Field(9600, description="Serial reader speed")
    idle_seconds: float = Field(
        60.0, gt=0, description="No touch for this long: back to welcome, the patient forgotten"
    )
    show_seconds: float = Field(30.0, gt=0, description="Seconds 'done' and errors stay shown")
    claim_seconds: float = Field(3.0, gt=0, description="How often the worker asks for a job")
    poll_seconds: float = Field(1.0, gt=0, description="How often the worker asks the writer")
    heartbeat_seconds: float = Field(
        30.0, gt=0, description="Longest time between progress reports (renews the job's lease)"
    )
    burn_attempts: int = Field(
        3, ge=1, le=10, description="Discs tried per image when burning or verifying fails"
    )
    desk_wait_seconds: float = Field(
        1800.0,
        gt=0,
        description="How long a job waits for the desk to load discs or ink before it fails",
    )

    @property
    def work_dir(self) -> Path:
        return self.state_dir / "work"

    @property
    def held_job_file(self) -> Path:
        return self.state_dir / "held-job.json"
