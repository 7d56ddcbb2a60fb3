"""The waiting-room screen's options (file /etc/imaging/queue-display.toml or
QUEUE_DISPLAY_CONFIG, variables QUEUE_DISPLAY_<OPTION>)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from device_kit.config import ScreenSettings
from queue_display.hardware import DEFAULT_VOICE


class Settings(ScreenSettings):
    model_config = SettingsConfigDict(env_prefix="QUEUE_DISPLAY_", extra="forbid")
    program: ClassVar[str] = "queue-display"

    state_dir: Path = Field(
        Path("/var/lib/queue-display"), description="Enrolment key and the last spoken call (WAV)"
    )
    orientation: str = Field(
        "auto",
        pattern="^(auto|landscape|portrait)$",
        description="landscape, portrait, or auto (the screen's setting in the core)",
    )
    rows: int | None = Field(
        None, ge=1, description="Rows per waiting list; unset: the screen's setting in the core"
    )
    page_seconds: float | None = Field(
        None, gt=0, description="Seconds per page of a long list; unset: the core's setting"
    )
    refresh_seconds: float = Field(
        30.0, gt=0, description="Fetch the state this often even without pushed events (s)"
    )
    queues_per_screen: int | None = Field(
        None, ge=1, description="Queues shown at once (more take turns); unset: 4, portrait 3"
    )
    voice: bool = Field(True, description="Speak the calls (the core's screen setting too)")
    voice_name: str = Field(DEFAULT_VOICE, description="espeak-ng voice")
    audio_player: str = Field("aplay -q", description="Command that plays a WAV file")
    audio_device: str = Field("", description="ALSA device for the player (-D); empty: default")
    screenshot_dir: Path | None = Field(None, description="Write a PNG of each new frame here")
    # The loop reads the core's answers once a turn: at 10 turns a second a call reached the
    # screen in 210 ms (median, bench/queue_bench.py), at 30 in 160 ms for about 1 % more CPU.
    frames_per_second: int = Field(
        30, ge=1, le=60, description="Turns of the main loop a second (a new call shows within one)"
    )
