"""Keypad through real evdev InputEvents; serial button box through pyserial's loop:// and a
pseudo-terminal (pty.openpty)."""

from __future__ import annotations

import os
import pty
import time

import evdev
import pytest
from evdev import ecodes

from caller_terminal.hardware import EvdevButtons, ScriptedButtons, SerialButtons
from device_kit.drivers import HardwareError


def key(code: int, value: int) -> evdev.InputEvent:
    return evdev.InputEvent(int(time.time()), 0, ecodes.EV_KEY, code, value)


def test_keypad_presses_become_commands() -> None:
    keypad = EvdevButtons("/dev/input/event99")
    events = [
        key(ecodes.KEY_KP1, 1),  # down
        evdev.InputEvent(0, 0, ecodes.EV_SYN, 0, 0),
        key(ecodes.KEY_KP1, 2),  # held: auto-repeat, not a second press
        key(ecodes.KEY_KP1, 0),  # up
        key(ecodes.KEY_KP5, 1),
        key(ecodes.KEY_A, 1),  # not mapped
        key(ecodes.KEY_F2, 1),
    ]
    assert keypad.feed(events) == ["call_next", "finish", "recall"]
    remapped = EvdevButtons("/dev/input/event99", {"KEY_A": "start"})
    assert remapped.feed([key(ecodes.KEY_A, 1), key(ecodes.KEY_KP1, 1)]) == ["start"]


def test_missing_keypad_is_named_and_polling_it_is_a_hardware_error() -> None:
    keypad = EvdevButtons("/dev/input/by-id/no-such-keypad")
    availability = keypad.is_available()
    assert not availability.ok
    assert "device /dev/input/by-id/no-such-keypad (not present)" in availability.missing
    with pytest.raises(HardwareError) as failure:
        keypad.poll()
    assert failure.value.reason == "keypad_offline"


def test_serial_box_over_loop_url() -> None:
    box = SerialButtons("loop://")
    assert box.poll() == []
    box._serial.write(b"1")  # single-byte box
    assert box.poll() == ["call_next"]
    box._serial.write(b"finish\r\n2\nbogus\nrec")
    assert box.poll() == ["finish", "recall"]
    box._serial.write(b"all\n")
    assert box.poll() == ["recall"]
    box.close()


def test_serial_box_over_a_pty_and_going_away() -> None:
    controller, device = pty.openpty()
    box = SerialButtons(os.ttyname(device))
    assert box.is_available().ok
    assert box.poll() == []  # opens the port (pyserial drops what came before)
    os.write(controller, b"4\n")
    deadline = time.monotonic() + 5
    commands: list[str] = []
    while not commands and time.monotonic() < deadline:
        commands = box.poll()
        time.sleep(0.01)
    assert commands == ["start"]
    box.close()
    os.close(controller)
    os.close(device)
    gone = SerialButtons("/dev/ttyUSB-none")
    with pytest.raises(HardwareError) as failure:
        gone.poll()
    assert failure.value.reason == "buttons_offline"


def test_scripted_fake() -> None:
    fake = ScriptedButtons(presses=["call_next", "start"])
    assert fake.poll() == ["call_next", "start"] and fake.poll() == []
    fake.fail = "unplugged"
    with pytest.raises(HardwareError):
        fake.poll()
