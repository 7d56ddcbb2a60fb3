"""ESC/POS bytes from python-escpos's Dummy and File printers; the readers through evdev
InputEvents and pyserial's loop://."""

from __future__ import annotations

import time
from pathlib import Path

import evdev
import pytest
from escpos.printer import Dummy
from evdev import ecodes

from device_kit.drivers import HardwareError
from device_kit.readers import EvdevScanner, SerialScanner
from tests.ticket_printer.tickets import ticket
from ticket_printer.hardware import (
    FS_CHINESE_OFF,
    FS_CHINESE_ON,
    GS_V_0,
    EscposPrinter,
    RecordingPrinter,
    chinese_bytes,
    compose_fs_and,
    compose_raster,
    ticket_text,
)


def gb(text: str) -> bytes:
    return FS_CHINESE_ON + text.encode("gb18030") + FS_CHINESE_OFF


def test_fs_and_mode_sends_gb18030_inside_fs_and() -> None:
    printer = Dummy(profile="TM-T88III")
    compose_fs_and(printer, ticket_text(ticket()))
    out = printer.output
    assert out.startswith(b"\x1b\x40")
    for line in [
        "某某市人民医院",
        "放射科 CT检查",
        "姓名：张*三",
        "检查：胸部CT平扫",
        "前面还有 4 人等候",
        "检查室：CT一室",
    ]:
        assert gb(line) in out, line
    assert b"\x1d\x21\x33CT016\n" in out  # the number, four times the size, plain ASCII
    assert "张三".encode() not in out and "张".encode() not in out  # no UTF-8 leaks
    qr = Dummy(profile="TM-T88III")
    qr.qr("A2026112900015", size=6, center=True)
    assert qr.output in out  # the QR code of the accession number, as a raster image
    assert out.endswith(b"\x1bd\x06\x1dV\x00")  # feed past the cutter, full cut
    assert chinese_bytes("CT016") == b"CT016"
    # GB18030 reaches characters GBK lacks (4-byte sequences).
    assert chinese_bytes("𠀀") == FS_CHINESE_ON + "𠀀".encode("gb18030") + FS_CHINESE_OFF


def test_raster_mode_draws_the_text_as_a_gs_v_0_image() -> None:
    printer = Dummy(profile="TM-T88III")
    compose_raster(printer, ticket_text(ticket()), 512, None)
    out = printer.output
    assert out.count(GS_V_0) >= 2  # the text image, the QR code
    assert FS_CHINESE_ON not in out
    assert "某某".encode("gb18030") not in out
    # GS v 0 m xL xH: 512 dots wide = 64 bytes per row.
    start = out.index(GS_V_0)
    assert out[start + 4 : start + 6] == (64).to_bytes(2, "little")


def test_file_backend_writes_the_ticket(tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    device.touch()
    printer = EscposPrinter(f"file:{device}", "fs_and")
    assert printer.is_available().ok
    assert printer.paper() == "ok"  # a device file cannot say; printing goes ahead
    printer.print_ticket(ticket())
    assert gb("某某市人民医院") in device.read_bytes()


def test_missing_printer_is_named_and_offline(tmp_path: Path) -> None:
    printer = EscposPrinter(f"file:{tmp_path / 'none' / 'lp0'}")
    availability = printer.is_available()
    assert not availability.ok and "(not present)" in availability.missing[0]
    with pytest.raises(HardwareError) as failure:
        printer.print_ticket(ticket())
    assert failure.value.reason == "printer_offline"
    network = EscposPrinter("network:127.0.0.1:1")  # nothing listens on port 1
    with pytest.raises(HardwareError) as failure:
        network.paper()
    assert failure.value.reason == "printer_offline"
    with pytest.raises(ValueError, match="usb:VID:PID"):
        EscposPrinter("lpt1")


def test_recording_fake() -> None:
    fake = RecordingPrinter()
    fake.print_ticket(ticket())
    assert fake.printed[0]["number"] == "CT016"
    fake.fail = "paper_out"
    assert fake.paper() == "out"
    with pytest.raises(HardwareError):
        fake.print_ticket(ticket())


def typed(text: str) -> list[evdev.InputEvent]:
    events = []
    for char in text:
        shifted = char.isalpha() and char.isupper()
        code = ecodes.ecodes[f"KEY_{char.upper()}"] if char != "\n" else ecodes.KEY_ENTER
        if shifted:
            events.append(
                evdev.InputEvent(int(time.time()), 0, ecodes.EV_KEY, ecodes.KEY_LEFTSHIFT, 1)
            )
        events.append(evdev.InputEvent(int(time.time()), 0, ecodes.EV_KEY, code, 1))
        events.append(evdev.InputEvent(int(time.time()), 0, ecodes.EV_KEY, code, 0))
        if shifted:
            events.append(
                evdev.InputEvent(int(time.time()), 0, ecodes.EV_KEY, ecodes.KEY_LEFTSHIFT, 0)
            )
    return events


def test_keyboard_wedge_scanner_reads_codes_and_id_cards() -> None:
    scanner = EvdevScanner("/dev/input/event98")
    assert scanner.feed(typed("A2026112900015\n")) == ["A2026112900015"]
    assert scanner.feed(typed("11010519491231002X\n")) == ["11010519491231002X"]
    half = typed("P00")
    assert scanner.feed(half) == []
    assert scanner.feed(typed("1\n")) == ["P001"]
    with pytest.raises(HardwareError):
        scanner.poll()  # no such device here


def test_serial_scanner_lines() -> None:
    scanner = SerialScanner("loop://")
    assert scanner.poll() == []
    scanner._serial.write(b"A2026112900015\r\nP0")
    assert scanner.poll() == ["A2026112900015"]
    scanner._serial.write(b"01\r")
    assert scanner.poll() == ["P001"]
    scanner.close()
