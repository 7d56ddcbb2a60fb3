"""Barcode and ID-card readers, shared by the device programs that check patients in (the ticket
printer, the disc kiosk): an evdev keyboard-wedge scanner, a serial one, and a scripted fake.
Each is an :class:`~device_kit.drivers.InputSource`: ``poll`` gives the codes read."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from device_kit.drivers import Availability, HardwareError, InputSource, Needs

log = logging.getLogger(__name__)


# The barcode / ID-card reader: ``poll`` gives the codes read.
Scanner = InputSource


# A keyboard-wedge scanner types the code and presses Enter; ID-card readers do the same with
# the 18-character ID number (last character may be X).
_KEY_CHARS = {f"KEY_{c}": c for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_KEY_CHARS |= {f"KEY_KP{d}": d for d in "0123456789"}
_KEY_CHARS |= {"KEY_MINUS": "-", "KEY_DOT": ".", "KEY_SLASH": "/", "KEY_SPACE": " "}
_SHIFTED = {"KEY_MINUS": "_", "KEY_SLASH": "?"}
_ENDS = {"KEY_ENTER", "KEY_KPENTER", "KEY_TAB"}


class EvdevScanner:
    def __init__(self, device: str) -> None:
        self.device = device
        self.name = f"scanner {device}"
        self._input: Any = None
        self._chars: list[str] = []
        self._shift = False

    def is_available(self) -> Availability:
        return Needs("scanner").module("evdev").device(self.device, writable=False).result()

    def feed(self, events: list[Any]) -> list[str]:
        from evdev import KeyEvent, ecodes

        codes = []
        for event in events:
            if event.type != ecodes.EV_KEY:
                continue
            key = KeyEvent(event)
            names = key.keycode if isinstance(key.keycode, list | tuple) else [key.keycode]
            name = str(names[0])
            if name in ("KEY_LEFTSHIFT", "KEY_RIGHTSHIFT"):
                self._shift = key.keystate != KeyEvent.key_up
                continue
            if key.keystate != KeyEvent.key_down:
                continue
            if name in _ENDS:
                code = "".join(self._chars).strip()
                self._chars = []
                if code:
                    codes.append(code)
            elif self._shift and name in _SHIFTED:
                self._chars.append(_SHIFTED[name])
            elif name in _KEY_CHARS:
                char = _KEY_CHARS[name]
                self._chars.append(char if self._shift or not char.isalpha() else char.lower())
        return codes

    def poll(self) -> list[str]:
        import evdev

        try:
            if self._input is None:
                self._input = evdev.InputDevice(self.device)
                self._input.grab()  # the codes are ours, not the console's
                log.info("scanner %s (%s) connected", self.device, self._input.name)
            return self.feed(list(self._input.read()))
        except BlockingIOError:
            return []
        except OSError as error:
            self.close()
            raise HardwareError("scanner_offline", f"{self.device}: {error}") from error

    def close(self) -> None:
        if self._input is not None:
            with contextlib.suppress(OSError):
                self._input.close()
            self._input = None


class SerialScanner:
    """A serial (or USB-CDC) scanner: one code per line (CR, LF or both)."""

    def __init__(self, port: str, baudrate: int = 9600) -> None:
        self.port = port
        self.baudrate = baudrate
        self.name = f"scanner {port}"
        self._serial: Any = None
        self._buffer = b""

    def is_available(self) -> Availability:
        needs = Needs("scanner").module("serial", "pyserial")
        if "://" not in self.port:
            needs.device(self.port)
        return needs.result()

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        *lines, self._buffer = self._buffer.replace(b"\r", b"\n").split(b"\n")
        return [c for c in (line.decode("ascii", "replace").strip() for line in lines) if c]

    def poll(self) -> list[str]:
        import serial

        try:
            if self._serial is None:
                self._serial = serial.serial_for_url(self.port, self.baudrate, timeout=0)
            waiting = self._serial.in_waiting
            return self.feed(self._serial.read(waiting)) if waiting else []
        except (OSError, serial.SerialException) as error:
            self.close()
            raise HardwareError("scanner_offline", f"{self.port}: {error}") from error

    def close(self) -> None:
        if self._serial is not None:
            with contextlib.suppress(Exception):
                self._serial.close()
            self._serial = None


@dataclass
class ScriptedScanner:
    name: str = "scripted scanner"
    codes: list[str] = field(default_factory=list)

    def is_available(self) -> Availability:
        return Availability(self.name)

    def poll(self) -> list[str]:
        out, self.codes = self.codes, []
        return out

    def close(self) -> None:
        pass
