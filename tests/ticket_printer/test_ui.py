"""The kiosk screen with SDL's dummy driver, texts checked in the pixels."""

from __future__ import annotations

from datetime import datetime

from device_kit.i18n import Messages
from device_kit.screen import offscreen
from tests.device_kit.screens import assert_drawn, colour_count
from tests.ticket_printer.tickets import ticket
from ticket_printer import ui
from ticket_printer.app import (
    CheckedIn,
    CheckIn,
    Connection,
    KioskApp,
    PrinterProblem,
    Scanned,
    Tick,
)


def test_welcome_ticket_and_paper_out() -> None:
    app = KioskApp()
    app.handle(Tick(datetime(2026, 11, 29, 8, 0, 5)))
    app.handle(Connection(True))
    canvas = offscreen((1080, 1920))
    text = Messages("ticket_printer", "zh")
    ui.draw(canvas, app, text, "某某市人民医院")
    for line in ["某某市人民医院", "08:00:05", "请扫描检查单条码或刷身份证"]:
        assert_drawn(canvas, line)
    assert colour_count(canvas, ui.WARNING) == 0

    [check_in, _] = app.handle(Scanned("A2026112900015"))
    assert isinstance(check_in, CheckIn)
    app.handle(CheckedIn(check_in.key, [ticket()]))
    app.handle(PrinterProblem("paper_out"))
    ui.draw(canvas, app, text, "某某市人民医院")
    for line in [
        "CT检查",
        "您的号码",
        "CT016",
        "前面还有 4 人",
        "号票暂时无法打印，请记住您的号码，已通知工作人员",
    ]:
        assert_drawn(canvas, line)
    footer = assert_drawn(canvas, "打印机缺纸，请联系工作人员  1 张号票待打印")
    assert colour_count(canvas, ui.WARNING, footer.inflate(20, 10)) > 1000


def test_offline_in_english() -> None:
    app = KioskApp()
    app.handle(Connection(False))
    app.handle(Scanned("A1"))
    canvas = offscreen((1280, 800))
    ui.draw(canvas, app, Messages("ticket_printer", "en"))
    assert_drawn(canvas, "Cannot issue a number now: please go to the registration desk")
    assert_drawn(canvas, "Offline: check-in paused")
