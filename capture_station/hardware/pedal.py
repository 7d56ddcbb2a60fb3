"""Foot pedals: evdev devices grabbed exclusively (``EvdevPedals``), or Linux ``struct
input_event`` records read from a file or FIFO (``EventFilePedals``, the ``events:FILE`` spec,
which the tests use: this machine has no ``/dev/uinput``).

Cheap pedals pose as keyboards (``KEY_B``, ``KEY_F5``...), others as HID buttons
(``BTN_0``...); either way a press is an ``EV_KEY`` event with value 1 (down) or 0 (up); value
2 (autorepeat while held) is ignored, the app times long presses itself. A device that goes
away is ``connected`` False and is opened again on a later poll.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import evdev
from evdev import ecodes

from capture_station.contract import PedalPress
from device_kit.drivers import Availability, Needs

log = logging.getLogger(__name__)

EV_KEY = 1  # linux/input-event-codes.h
# struct input_event on 64-bit Linux: struct timeval (long sec, long usec), u16 type, u16 code,
# s32 value: 24 bytes.
INPUT_EVENT = struct.Struct("llHHi")
RETRY_SECONDS = 1.0  # between attempts to open a device that is missing


def key_name(code: int) -> str:
    """The evdev name of a key or button code (``KEY_B``, ``BTN_0``); ``KEY_<n>`` if unknown."""
    name = ecodes.KEY.get(code) or ecodes.BTN.get(code)
    if isinstance(name, (list, tuple)):
        name = name[0]
    return str(name) if name else f"KEY_{code}"


def press(type_: int, code: int, value: int, at: float) -> PedalPress | None:
    """One key event as a press, or None for what a pedal does not mean (autorepeat, SYN...)."""
    if type_ != EV_KEY or value not in (0, 1):
        return None
    return PedalPress(key_name(code), value == 1, at)


class EventFilePedals:
    """``events:FILE``: ``struct input_event`` records from a file (read on as it grows) or a
    FIFO (a writer may come and go)."""

    name = "events"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"events:{self.path}"
        self._fd: int | None = None
        self._buffer = b""
        self._next_try = 0.0

    def availability(self) -> Availability:
        need = f"events file or FIFO {self.path}"
        missing = () if self.path.exists() else (f"{need} (not present)",)
        return Availability("pedal events file", missing, (need,))

    def open(self) -> None:
        if self._fd is not None:
            return
        try:
            # Non-blocking: opening a FIFO without a writer must not hang the main loop.
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as error:
            log.info("pedal %s: cannot open (%s)", self.name, error)
            self._fd = None
            self._next_try = time.monotonic() + RETRY_SECONDS

    @property
    def connected(self) -> bool:
        return self._fd is not None

    def poll(self) -> list[PedalPress]:
        if self._fd is None:
            if time.monotonic() < self._next_try:
                return []
            self.open()
            if self._fd is None:
                return []
        presses: list[PedalPress] = []
        while True:
            try:
                chunk = os.read(self._fd, 4096)
            except BlockingIOError:
                break
            except OSError as error:
                log.info("pedal %s: lost (%s)", self.name, error)
                self.close()
                break
            if not chunk:
                break  # end of a file (it may grow) or a FIFO without a writer now
            self._buffer += chunk
        now = time.monotonic()
        size = INPUT_EVENT.size
        whole = len(self._buffer) - len(self._buffer) % size
        for offset in range(0, whole, size):
            _sec, _usec, type_, code, value = INPUT_EVENT.unpack_from(self._buffer, offset)
            got = press(type_, code, value, now)
            if got is not None:
                presses.append(got)
        self._buffer = self._buffer[whole:]
        return presses

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._next_try = time.monotonic() + RETRY_SECONDS


def _open_evdev(path: str) -> Any:
    return evdev.InputDevice(path)


class EvdevPedals:
    """evdev input devices (``/dev/input/event*``, better ``/dev/input/by-id/...``), grabbed so
    a keyboard-style pedal's keys do not also type into the desktop. ``opener`` is
    ``evdev.InputDevice`` (tests pass a device that can be unplugged)."""

    name = "evdev"

    def __init__(
        self,
        paths: Sequence[str],
        grab: bool = True,
        opener: Callable[[str], Any] = _open_evdev,
    ) -> None:
        self.paths = list(paths)
        self.grab = grab
        self._opener = opener
        self._devices: dict[str, Any] = {}
        self._next_try: dict[str, float] = {}

    def availability(self) -> Availability:
        needs = Needs("evdev pedal").module("evdev", "evdev (python-evdev)")
        for path in self.paths:
            needs.device(path, writable=False)
        result = needs.result()
        group = "membership of the input group (the device node's group)"
        missing = result.missing
        if any("no permission" in m for m in missing):
            missing = (*missing, group)
        return Availability(result.driver, missing, (*result.needs, group))

    def open(self) -> None:
        now = time.monotonic()
        for path in self.paths:
            if path in self._devices or now < self._next_try.get(path, 0.0):
                continue
            try:
                device = self._opener(path)
                if self.grab:
                    device.grab()
            except OSError as error:
                log.info("pedal %s: cannot open (%s)", path, error)
                self._next_try[path] = now + RETRY_SECONDS
                continue
            self._devices[path] = device
            log.info("pedal %s: %s", path, getattr(device, "name", "?"))

    @property
    def connected(self) -> bool:
        return len(self._devices) == len(self.paths)

    def poll(self) -> list[PedalPress]:
        self.open()
        presses: list[PedalPress] = []
        for path, device in list(self._devices.items()):
            try:
                events = list(device.read())
            except BlockingIOError:
                continue  # nothing new
            except OSError as error:  # ENODEV: unplugged
                log.info("pedal %s: lost (%s)", path, error)
                self._drop(path)
                continue
            now = time.monotonic()
            for event in events:
                got = press(event.type, event.code, event.value, now)
                if got is not None:
                    presses.append(got)
        return presses

    def _drop(self, path: str) -> None:
        device = self._devices.pop(path)
        with contextlib.suppress(OSError):
            device.close()
        self._next_try[path] = time.monotonic() + RETRY_SECONDS

    def close(self) -> None:
        for path in list(self._devices):
            device = self._devices[path]
            if self.grab:
                with contextlib.suppress(OSError):
                    device.ungrab()
            self._drop(path)


class CombinedPedals:
    """Several pedal sources as one (an evdev pedal and an events FIFO, say)."""

    name = "pedals"

    def __init__(self, sources: Sequence[EvdevPedals | EventFilePedals]) -> None:
        self.sources = list(sources)

    def availability(self) -> Availability:
        parts = [s.availability() for s in self.sources]
        missing = tuple(m for a in parts for m in a.missing)
        needs = tuple(n for a in parts for n in a.needs)
        return Availability("pedals", missing, needs)

    def open(self) -> None:
        for source in self.sources:
            source.open()

    @property
    def connected(self) -> bool:
        return all(s.connected for s in self.sources)

    def poll(self) -> list[PedalPress]:
        presses = [p for s in self.sources for p in s.poll()]
        return sorted(presses, key=lambda p: p.monotonic)

    def close(self) -> None:
        for source in self.sources:
            source.close()


def make_pedal_source(specs: Sequence[str], grab: bool = True) -> CombinedPedals:
    """The ``--pedal`` options: ``events:FILE`` or evdev device paths (all of them together)."""
    files = [EventFilePedals(s[len("events:") :]) for s in specs if s.startswith("events:")]
    paths = [s for s in specs if s and not s.startswith("events:")]
    sources: list[EvdevPedals | EventFilePedals] = [*files]
    if paths:
        sources.append(EvdevPedals(paths, grab=grab))
    return CombinedPedals(sources)


@dataclass(frozen=True)
class InputDeviceInfo:
    """One input device as the ``check`` command lists it."""

    path: str
    name: str
    keys: tuple[str, ...]  # its EV_KEY capabilities, by evdev name
    looks_like_pedal: bool


def describe(path: str, name: str, codes: Sequence[int]) -> InputDeviceInfo:
    keys = tuple(key_name(c) for c in codes)
    lowered = name.lower()
    # A pedal says so in its name, or offers few keys/buttons; a full keyboard offers ~100.
    pedal = any(w in lowered for w in ("pedal", "foot", "footswitch")) or 0 < len(keys) <= 12
    return InputDeviceInfo(path, name, keys, pedal)


def list_input_devices() -> list[InputDeviceInfo]:
    """Every evdev device this user can open, with its keys; the ones that look like a pedal
    first. Empty when there is none."""
    found: list[InputDeviceInfo] = []
    for path in evdev.list_devices():
        try:
            device = evdev.InputDevice(path)
        except OSError:
            continue
        try:
            codes = device.capabilities().get(EV_KEY, [])
            found.append(describe(str(device.path), device.name, codes))
        finally:
            device.close()
    return sorted(found, key=lambda d: (not d.looks_like_pedal, d.path))
