"""The caller's buttons: a ``ButtonSource`` interface with two real drivers (a USB keypad or
button box seen by evdev, a serial button box through pyserial) and a scripted fake. The
touchscreen is pygame's own events, handled by the UI."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from device_kit.drivers import Availability, HardwareError, InputSource, Needs

log = logging.getLogger(__name__)

# A numeric USB keypad (cheap, and what most rooms get); every key can be remapped in config.
DEFAULT_KEYMAP: dict[str, str] = {
    "KEY_KP1": "call_next",
    "KEY_KP2": "recall",
    "KEY_KP3": "missed",
    "KEY_KP4": "start",
    "KEY_KP5": "finish",
    "KEY_KP6": "choose",
    "KEY_KP8": "up",
    "KEY_KP9": "down",
    "KEY_KPENTER": "confirm",
    "KEY_KPDOT": "cancel",
    "KEY_KP7": "pause",
    "KEY_KP0": "resume",
    # Dedicated button boxes often send function keys.
    "KEY_F1": "call_next",
    "KEY_F2": "recall",
    "KEY_F3": "missed",
    "KEY_F4": "start",
    "KEY_F5": "finish",
}
# A serial button box sends one code per press: a digit, or a command name, per line or alone.
DEFAULT_SERIAL_CODES: dict[str, str] = {
    "1": "call_next",
    "2": "recall",
    "3": "missed",
    "4": "start",
    "5": "finish",
    "6": "choose",
    "8": "up",
    "9": "down",
    "E": "confirm",
    "C": "cancel",
}


# A keypad or button box: ``poll`` gives commands (call_next, recall...).
ButtonSource = InputSource


class EvdevButtons:
    """A keypad or HID button box through evdev (grabbed, so key presses do not leak into a
    console). Key-down events only; auto-repeat ignored (a held key is one press)."""

    def __init__(self, device: str, keymap: Mapping[str, str] | None = None) -> None:
        self.device = device
        self.name = f"keypad {device}"
        self.keymap = dict(keymap or DEFAULT_KEYMAP)
        self._input: Any = None

    def is_available(self) -> Availability:
        return Needs("keypad").module("evdev").device(self.device, writable=False).result()

    def feed(self, events: Iterable[Any]) -> list[str]:
        """Commands for a batch of ``evdev.InputEvent``s."""
        from evdev import KeyEvent, ecodes

        commands = []
        for event in events:
            if event.type != ecodes.EV_KEY:
                continue
            key = KeyEvent(event)
            if key.keystate != KeyEvent.key_down:
                continue
            codes = key.keycode if isinstance(key.keycode, list | tuple) else [key.keycode]
            names = [str(code) for code in codes]  # one key can have several names
            for name in names:
                if name in self.keymap:
                    commands.append(self.keymap[name])
                    break
            else:
                log.debug("unmapped key %s", names)
        return commands

    def poll(self) -> list[str]:
        import evdev

        try:
            if self._input is None:
                self._input = evdev.InputDevice(self.device)
                self._input.grab()
                log.info("keypad %s (%s) connected", self.device, self._input.name)
            return self.feed(list(self._input.read()))
        except BlockingIOError:
            return []  # nothing pressed
        except OSError as error:
            self.close()
            raise HardwareError("keypad_offline", f"{self.device}: {error}") from error

    def close(self) -> None:
        if self._input is not None:
            with contextlib.suppress(OSError):
                self._input.close()
            self._input = None


class SerialButtons:
    """A serial button box (pyserial URL: ``/dev/ttyUSB0``, ``loop://``...)."""

    def __init__(
        self, port: str, baudrate: int = 9600, codes: Mapping[str, str] | None = None
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.name = f"button box {port}"
        self.codes = dict(codes or DEFAULT_SERIAL_CODES)
        self._serial: Any = None
        self._buffer = b""

    def is_available(self) -> Availability:
        needs = Needs("serial button box").module("serial", "pyserial")
        if "://" not in self.port:
            needs.device(self.port)
        return needs.result()

    def feed(self, data: bytes) -> list[str]:
        """Commands in the bytes received so far; a partial name waits for its newline."""
        self._buffer += data
        commands: list[str] = []
        *lines, self._buffer = self._buffer.replace(b"\r", b"\n").split(b"\n")
        tail = self._buffer.decode("ascii", "replace").strip()
        if tail in self.codes:  # single-byte boxes send no newline
            lines.append(self._buffer)
            self._buffer = b""
        for raw in lines:
            token = raw.decode("ascii", "replace").strip()
            if not token:
                continue
            if token in self.codes:
                commands.append(self.codes[token])
            elif token in self.codes.values():
                commands.append(token)
            else:
                log.warning("button box sent an unknown code %r", token)
        return commands

    def poll(self) -> list[str]:
        import serial

        try:
            if self._serial is None:
                self._serial = serial.serial_for_url(self.port, self.baudrate, timeout=0)
                log.info("button box %s connected", self.port)
            waiting = self._serial.in_waiting
            return self.feed(self._serial.read(waiting)) if waiting else []
        except (OSError, serial.SerialException) as error:
            self.close()
            raise HardwareError("buttons_offline", f"{self.port}: {error}") from error

    def close(self) -> None:
        if self._serial is not None:
            with contextlib.suppress(Exception):  # a vanished port fails in many ways
                self._serial.close()
            self._serial = None


@dataclass
class ScriptedButtons:
    """The fake: presses queued by a test, handed out one poll at a time; ``fail`` makes the
    next poll fail like an unplugged device."""

    name: str = "scripted buttons"
    presses: list[str] = field(default_factory=list)
    fail: str | None = None

    def is_available(self) -> Availability:
        return Availability(self.name)

    def poll(self) -> list[str]:
        if self.fail:
            raise HardwareError("keypad_offline", self.fail)
        out, self.presses = self.presses, []
        return out

    def close(self) -> None:
        pass


def check_keymap(keymap: Mapping[str, str], commands: Iterable[str]) -> None:
    known = set(commands)
    for key, command in keymap.items():
        if command not in known:
            raise ValueError(f"key {key} is mapped to unknown command {command!r}")
