"""The kiosk against a real core: a scanned exam slip checks the patient in and the ticket
comes out of a real python-escpos File printer as FS & + GB18030; an unknown code gets the
core's refusal on screen."""

from __future__ import annotations

from pathlib import Path

from device_kit import config
from device_kit.client import CoreClient
from device_kit.readers import ScriptedScanner
from device_kit.screen import offscreen
from tests.conftest import RunningCore
from tests.device_kit.core_setup import enrol, order_exam, run_until, setup_ct
from tests.device_kit.screens import assert_drawn
from ticket_printer.__main__ import KioskProgram, printer_for
from ticket_printer.app import MESSAGE, TICKETS
from ticket_printer.hardware import FS_CHINESE_OFF, FS_CHINESE_ON
from ticket_printer.settings import Settings

LOGO_RED = (200, 20, 20)


def test_scan_check_in_print(core: RunningCore, tmp_path: Path) -> None:
    admin = setup_ct(core)
    exam = order_exam(core, "P001", "张三丰")
    record = enrol(admin, tmp_path, "desk-printer", "printer")
    logo = offscreen((16, 16))
    logo.clear(LOGO_RED)
    answer = admin.put(
        "/api/queueing/logo",
        content=logo.save_png(tmp_path, "logo.png").read_bytes(),
        headers={"Content-Type": "image/png"},
    )
    assert answer.status_code == 204, answer.text
    device = tmp_path / "lp0"
    device.touch()
    settings = config.load(
        Settings,
        state_dir=tmp_path,
        printer=f"file:{device}",
        reconnect_min_delay=0.05,
        reconnect_max_delay=0.5,
        retry_print_seconds=0.05,
    )
    scanner = ScriptedScanner()
    program = KioskProgram(
        settings, record, printer_for(settings), scanner, offscreen((1080, 1920))
    )
    assert settings.hospital_name == ""
    program.start()
    try:
        run_until(program.step, lambda: program.app.online, "online")
        # No hospital_name setting: the core's name is in the header before the first ticket.
        run_until(program.step, lambda: program.hospital == "某某市人民医院", "hospital name")
        run_until(program.step, lambda: program.logo is not None, "hospital logo")
        program.step()
        name = assert_drawn(program.canvas, "某某市人民医院")
        # The logo stands left of the name in the header, in its own colour.
        assert program.canvas.surface.get_at((name.left // 2, name.centery))[:3] == LOGO_RED
        scanner.codes.append("NO-SUCH-SLIP")
        run_until(program.step, lambda: program.app.screen == MESSAGE, "refusal")
        assert program.app.message is not None and program.app.message["text"]

        scanner.codes.append(exam.accession_number)
        run_until(program.step, lambda: program.app.screen == TICKETS, "ticket")
        run_until(
            program.step, lambda: program.app.unprinted == 0 and len(program.jobs) == 0, "printed"
        )
        printed = device.read_bytes()
        for text in ("某某市人民医院", "姓名：张*丰", "前面还有 0 人等候"):
            assert FS_CHINESE_ON + text.encode("gb18030") + FS_CHINESE_OFF in printed, text
        assert b"CT001\n" in printed
        assert "张三丰".encode("gb18030") not in printed  # masked on paper
        program.step()
        assert_drawn(program.canvas, "CT001")
        assert_drawn(program.canvas, "请取走号票")
    finally:
        program.stop()


def test_devices_me_names_the_hospital_and_its_logo(core: RunningCore, tmp_path: Path) -> None:
    admin = setup_ct(core)
    record = enrol(admin, tmp_path, "desk-printer", "printer")
    device = CoreClient(record, 10)
    try:
        me = device.get("/api/queueing/devices/me")
        assert me["kind"] == "printer"
        assert me["hospital"] == {"name": "某某市人民医院", "logo_url": None}
        logo = offscreen((8, 8)).save_png(tmp_path, "logo.png").read_bytes()
        answer = admin.put(
            "/api/queueing/logo", content=logo, headers={"Content-Type": "image/png"}
        )
        assert answer.status_code == 204, answer.text
        me = device.get("/api/queueing/devices/me")
        assert me["hospital"]["logo_url"] == "/api/queueing/logo"
        assert device.get_bytes(me["hospital"]["logo_url"]) == logo
    finally:
        device.close()
