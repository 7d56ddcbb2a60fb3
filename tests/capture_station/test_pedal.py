"""Pedals: ``events:FILE`` records from a file and a FIFO, evdev devices unplugged and back
(real ``evdev.InputEvent`` objects through a device that can vanish: no /dev/uinput here), the
``--pedal`` specs and the device list of the ``check`` command."""

from __future__ import annotations

import errno
import os
import time

import pytest
from evdev import InputEvent, ecodes

from capture_station.hardware.pedal import (
    INPUT_EVENT,
    EvdevPedals,
    EventFilePedals,
    describe,
    list_input_devices,
    make_pedal_source,
)


def record(code: int, value: int, type_: int = ecodes.EV_KEY) -> bytes:
    return INPUT_EVENT.pack(1_700_000_000, 5, type_, code, value)


def syn() -> bytes:
    return INPUT_EVENT.pack(1_700_000_000, 6, ecodes.EV_SYN, 0, 0)


def test_input_event_is_the_kernel_layout():
    assert INPUT_EVENT.size == 24  # 64-bit struct input_event


def test_events_fifo_down_up_and_autorepeat_ignored(tmp_path):
    fifo = tmp_path / "pedal.fifo"
    os.mkfifo(fifo)
    pedals = EventFilePedals(fifo)
    pedals.open()  # no writer yet: must not block
    assert pedals.connected and pedals.poll() == []
    writer = os.open(fifo, os.O_WRONLY)
    try:
        data = record(ecodes.KEY_B, 1) + syn() + record(ecodes.KEY_B, 2) + record(ecodes.KEY_B, 0)
        os.write(writer, data[:30])  # a record split across two reads
        first = pedals.poll()
        os.write(writer, data[30:] + record(ecodes.BTN_0, 1) + syn())
        rest = pedals.poll()
    finally:
        os.close(writer)
    presses = first + rest
    assert [(p.code, p.down) for p in presses] == [
        ("KEY_B", True),
        ("KEY_B", False),
        ("BTN_0", True),
    ]
    assert all(p.monotonic <= time.monotonic() for p in presses)
    # The writer went away: no error, still connected, a new writer is read.
    assert pedals.poll() == [] and pedals.connected
    writer = os.open(fifo, os.O_WRONLY)
    try:
        os.write(writer, record(ecodes.KEY_F5, 1))
        assert [(p.code, p.down) for p in pedals.poll()] == [("KEY_F5", True)]
    finally:
        os.close(writer)
    pedals.close()


def test_events_plain_file_read_as_it_grows(tmp_path):
    path = tmp_path / "events.bin"
    path.write_bytes(record(ecodes.KEY_A, 1))
    pedals = make_pedal_source([f"events:{path}"])
    pedals.open()
    assert [(p.code, p.down) for p in pedals.poll()] == [("KEY_A", True)]
    with path.open("ab") as out:
        out.write(record(ecodes.KEY_A, 0))
    assert [(p.code, p.down) for p in pedals.poll()] == [("KEY_A", False)]
    pedals.close()


def test_missing_events_file_is_not_connected(tmp_path):
    pedals = EventFilePedals(tmp_path / "nothing")
    pedals.open()
    assert not pedals.connected and pedals.poll() == []
    assert not pedals.availability().ok


class Unpluggable:
    """An evdev device as python-evdev gives it (grab, read, close) that can be pulled out."""

    def __init__(self, path: str) -> None:
        self.path, self.name = path, "PCsensor FootSwitch"
        self.queue: list[InputEvent] = []
        self.grabbed = False
        self.gone = False

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def read(self):
        if self.gone:
            raise OSError(errno.ENODEV, "No such device")
        if not self.queue:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        events, self.queue = self.queue, []
        return iter(events)

    def close(self) -> None:
        pass


def test_evdev_pedal_grabbed_unplugged_and_back(monkeypatch):
    plugged: dict[str, Unpluggable] = {}

    def opener(path: str) -> Unpluggable:
        if path in plugged:
            return plugged[path]
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)

    monkeypatch.setattr("capture_station.hardware.pedal.RETRY_SECONDS", 0.0)
    path = "/dev/input/by-id/usb-pedal-event-kbd"
    device = plugged[path] = Unpluggable(path)
    pedals = EvdevPedals([path], grab=True, opener=opener)
    pedals.open()
    assert pedals.connected and device.grabbed
    device.queue = [
        InputEvent(1, 0, ecodes.EV_MSC, ecodes.MSC_SCAN, 458757),
        InputEvent(1, 0, ecodes.EV_KEY, ecodes.KEY_B, 1),
        InputEvent(1, 0, ecodes.EV_KEY, ecodes.KEY_B, 2),
        InputEvent(1, 0, ecodes.EV_SYN, ecodes.SYN_REPORT, 0),
    ]
    assert [(p.code, p.down) for p in pedals.poll()] == [("KEY_B", True)]
    assert pedals.poll() == []
    device.gone = True
    del plugged[path]
    assert pedals.poll() == [] and not pedals.connected
    assert pedals.poll() == [] and not pedals.connected  # still away: retried, no crash
    back = plugged[path] = Unpluggable(path)
    back.queue = [InputEvent(2, 0, ecodes.EV_KEY, ecodes.KEY_B, 0)]
    assert [(p.code, p.down) for p in pedals.poll()] == [("KEY_B", False)]
    assert pedals.connected and back.grabbed
    pedals.close()
    assert not back.grabbed


def test_real_evdev_driver_on_a_missing_node():
    pedals = EvdevPedals(["/dev/input/event-not-here"])
    pedals.open()
    assert not pedals.connected and pedals.poll() == []
    message = pedals.availability().message()
    assert "/dev/input/event-not-here" in message and "input group" in message


def test_pedal_specs_combine_sources(tmp_path):
    path = tmp_path / "e.bin"
    path.write_bytes(b"")
    pedals = make_pedal_source([f"events:{path}", "/dev/input/event-not-here"])
    assert [type(s).__name__ for s in pedals.sources] == ["EventFilePedals", "EvdevPedals"]
    pedals.open()
    assert not pedals.connected  # the evdev node is missing


def test_device_list_marks_pedal_like_devices():
    pedal = describe("/dev/input/event3", "PCsensor FootSwitch", [ecodes.KEY_A, ecodes.KEY_B])
    buttons = describe("/dev/input/event4", "HID 0c45:7403", [ecodes.BTN_0, ecodes.BTN_1])
    keyboard = describe("/dev/input/event2", "AT keyboard", list(range(1, 120)))
    assert pedal.looks_like_pedal and pedal.keys == ("KEY_A", "KEY_B")
    assert buttons.looks_like_pedal and buttons.keys == ("BTN_0", "BTN_1")
    assert not keyboard.looks_like_pedal
    found = list_input_devices()  # none on this machine, and no error
    assert isinstance(found, list)


@pytest.mark.parametrize("value", [0, 1])
def test_key_events_only(tmp_path, value):
    path = tmp_path / "e.bin"
    path.write_bytes(record(ecodes.REL_X, value, type_=ecodes.EV_REL) + record(ecodes.KEY_C, value))
    pedals = EventFilePedals(path)
    pedals.open()
    assert [(p.code, p.down) for p in pedals.poll()] == [("KEY_C", value == 1)]
