"""Which writer and which reader the settings name. The writers and readers themselves live
in ``kiosk_burner.hardware`` (the writers' part) and ``device_kit.readers``; until a writer is
there, a stand-in says what is missing, for ``kiosk-burner check`` and the log, never burns."""

from __future__ import annotations

import importlib
from typing import Any

from device_kit.drivers import Availability, InputSource
from device_kit.readers import EvdevScanner, SerialScanner
from kiosk_burner.contract import DiscImage, DiscWriter, Label, RobotState, WriterProgress
from kiosk_burner.settings import Settings


class MissingWriter:
    """The configured writer's driver is not installed: the robot is "not ok"."""

    def __init__(self, writer: str, why: str) -> None:
        self.name = f"{writer} writer"
        self._why = why

    def is_available(self) -> Availability:
        return Availability(self.name, (self._why,), (f"the {self.name} driver",))

    def robot_state(self) -> RobotState:
        return RobotState(ok=False, problems=("robot_error",))

    def submit(self, disc: DiscImage, label: Label, copies: int, key: str) -> None:
        raise RuntimeError(self._why)

    def progress(self, key: str) -> WriterProgress:
        return WriterProgress("failed", "robot_error", self._why)

    def cancel(self, key: str) -> None:
        return None


def writer_for(settings: Settings) -> DiscWriter:
    try:
        hardware: Any = importlib.import_module("kiosk_burner.hardware")
        make_writer = hardware.make_writer
    except (ImportError, AttributeError) as error:
        return MissingWriter(settings.writer, f"kiosk_burner.hardware.make_writer ({error})")
    writer: DiscWriter = make_writer(settings)
    return writer


def scanner_for(settings: Settings) -> InputSource:
    if settings.scanner == "serial":
        return SerialScanner(settings.scanner_device, settings.scanner_baudrate)
    return EvdevScanner(settings.scanner_device)
