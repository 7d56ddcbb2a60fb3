"""The capture station's options (file /etc/imaging/capture-station.toml or
CAPTURE_STATION_CONFIG, variables CAPTURE_STATION_<OPTION>, or the command line's
``--video-source``, ``--pedal``...)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from capture_station.app import COMMANDS
from capture_station.contract import Department
from device_kit.config import ScreenSettings

# Cheap USB foot switches pose as keyboards (often A/B/C or F-keys); button pedals send BTN_*.
DEFAULT_PEDAL_KEYS = {
    "KEY_B": "still",
    "KEY_A": "clip",
    "KEY_C": "burst",
    "BTN_0": "still",
    "BTN_1": "clip",
    "BTN_2": "burst",
    "KEY_SPACE": "still",
    "KEY_ENTER": "pick",
}
DEFAULT_PEDAL_LONG = {"KEY_B": "pick", "BTN_0": "pick"}


class Settings(ScreenSettings):
    model_config = SettingsConfigDict(env_prefix="CAPTURE_STATION_", extra="forbid")
    program: ClassVar[str] = "capture-station"

    state_dir: Path = Field(
        Path("/var/lib/capture-station"),
        description="Enrolment key, the captures spool (stills, clips, records) and MPPS steps",
    )
    video_source: str = Field(
        "/dev/video0", description="A V4L2 device (/dev/videoN), a video file, or testsrc[:WxH@fps]"
    )
    video_size: str = Field("768x576", pattern=r"^\d+x\d+$", description="Grabber size (PAL)")
    video_fps: float = Field(25.0, gt=0, le=60, description="Grabber frame rate")
    video_standard: str = Field("", description="PAL, NTSC or empty (the grabber's own)")
    pedal: list[str] = Field(
        [], description="Pedal devices: evdev paths or events:FILE (JSON list in env)"
    )
    pedal_keys: dict[str, str] = Field(
        DEFAULT_PEDAL_KEYS, description="evdev key name -> command (still, burst, timed, clip...)"
    )
    pedal_long: dict[str, str] = Field(
        DEFAULT_PEDAL_LONG,
        description="evdev key name -> command of a long press, before an exam is picked",
    )
    long_press_seconds: float = Field(0.8, gt=0, description="How long a long press is (s)")
    core_host: str = Field("", description="The core's DICOM host; empty: the core URL's host")
    core_port: int = Field(104, gt=0, lt=65536, description="The core's DICOM port")
    core_ae_title: str = Field("PACS", max_length=16, description="The core's AE title")
    station_ae_title: str = Field(
        "CAPTURE1", max_length=16, description="This station's AE title (registered in the core)"
    )
    station_name: str = Field("CAPTURE1", max_length=16, description="DICOM Station Name")
    room: str = Field("", description="The room's code; empty: the room the core bound it to")
    department: Department = Field(
        "endoscopy", description="endoscopy, ultrasound or photo: the objects' kind"
    )
    institution: str = Field("", description="DICOM Institution Name")
    worklist_source: Literal["rest", "mwl"] = Field(
        "rest", description="rest (the core's REST worklist) or mwl (DICOM MWL C-FIND)"
    )
    worklist_refresh_seconds: float = Field(60.0, gt=0, description="Worklist refresh (s)")
    jpeg_quality: int = Field(90, ge=50, le=100, description="JPEG quality of stills")
    lossless: bool = Field(False, description="Stills lossless (uncompressed RGB) instead of JPEG")
    burst_count: int = Field(5, ge=2, le=50, description="Frames of a burst")
    timed_seconds: float = Field(5.0, ge=1, description="Timed capture interval (s, >= 1)")
    clip_max_seconds: float = Field(60.0, gt=0, le=600, description="Longest clip (s)")
    hospital_zone: str = Field("Asia/Shanghai", description="The hospital's time zone")
    send_min_delay: float = Field(1.0, gt=0, description="First retry after a failed send (s)")
    send_max_delay: float = Field(30.0, gt=0, description="Longest wait between retries (s)")
    frames_per_second: int = Field(25, ge=1, le=60, description="Screen (preview) refresh rate")
    scope_check: bool = Field(
        True, description="Endoscopy: scan or pick the scope and check it before capture"
    )
    scope_scanner: str = Field(
        "",
        description="The scope tag's barcode scanner: an evdev path (keyboard wedge, grabbed) "
        "or serial:PORT (e.g. serial:/dev/ttyACM0); empty: the touch list only",
    )
    scope_wait_seconds: float = Field(
        3.0, gt=0, description="How long capture waits for the core's scope answer (then offline)"
    )
    keep_sent_days: float = Field(
        7.0, gt=0, description="Sent captures older than this leave the spool (on start, daily)"
    )
    live_feed: bool = Field(True, description="Send the supervisor's live view when watched")
    live_fps: float = Field(5.0, gt=0, le=5, description="Live view frames a second (<= 5)")
    screenshot_dir: Path | None = Field(None, description="Save a screenshot after each capture")

    @property
    def captures_dir(self) -> Path:
        return self.state_dir / "captures"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.hospital_zone)

    @property
    def video_dimensions(self) -> tuple[int, int]:
        width, height = self.video_size.split("x")
        return int(width), int(height)

    @field_validator("pedal_keys", "pedal_long")
    @classmethod
    def _known_commands(cls, value: dict[str, str]) -> dict[str, str]:
        for key, command in value.items():
            if command not in COMMANDS:
                raise ValueError(f"{key} -> {command!r}: commands are {', '.join(COMMANDS)}")
        return value

    @field_validator("hospital_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
