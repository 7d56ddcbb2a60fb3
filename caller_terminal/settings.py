"""The caller terminal's options (file /etc/imaging/caller-terminal.toml or
CALLER_TERMINAL_CONFIG, variables CALLER_TERMINAL_<OPTION>)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from caller_terminal.app import COMMANDS
from caller_terminal.hardware import DEFAULT_KEYMAP, DEFAULT_SERIAL_CODES
from device_kit.config import ScreenSettings


class Settings(ScreenSettings):
    model_config = SettingsConfigDict(env_prefix="CALLER_TERMINAL_", extra="forbid")
    program: ClassVar[str] = "caller-terminal"

    state_dir: Path = Field(
        Path("/var/lib/caller-terminal"), description="Enrolment key and the action spool"
    )
    inputs: list[str] = Field(
        ["touch"], description='Buttons: any of "touch", "evdev", "serial" (JSON list in env)'
    )
    evdev_device: str = Field(
        "", description="Keypad/button box event device, e.g. /dev/input/by-id/...-event-kbd"
    )
    keymap: dict[str, str] = Field(
        DEFAULT_KEYMAP, description="evdev key name -> command (call_next, recall, ...)"
    )
    serial_port: str = Field("", description="Serial button box: /dev/ttyUSB0 or a pyserial URL")
    serial_baudrate: int = Field(9600, description="Serial button box speed")
    serial_codes: dict[str, str] = Field(
        DEFAULT_SERIAL_CODES, description="Code the box sends -> command"
    )
    call_ttl_seconds: float = Field(
        60.0, gt=0, description="A call not delivered within this time (offline) is dropped"
    )
    refresh_seconds: float = Field(
        30.0, gt=0, description="Fetch the state this often even without pushed events (s)"
    )
    frames_per_second: int = Field(20, ge=1, le=60, description="Screen refresh rate")

    @field_validator("inputs")
    @classmethod
    def _known_inputs(cls, value: list[str]) -> list[str]:
        unknown = set(value) - {"touch", "evdev", "serial"}
        if unknown or not value:
            raise ValueError(f"inputs are touch, evdev, serial; got {value}")
        return value

    @field_validator("keymap", "serial_codes")
    @classmethod
    def _known_commands(cls, value: dict[str, str]) -> dict[str, str]:
        for key, command in value.items():
            if command not in COMMANDS:
                raise ValueError(f"{key} -> {command!r}: commands are {', '.join(COMMANDS)}")
        return value
