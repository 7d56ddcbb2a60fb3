"""The kiosk's state machine: one check-in per scan, every ticket printed, problems shown."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.ticket_printer.tickets import ticket
from ticket_printer.app import (
    CHECKING_IN,
    IDLE,
    MESSAGE,
    TICKETS,
    CheckedIn,
    CheckIn,
    CheckInRefused,
    CheckInUnreachable,
    Connection,
    KioskApp,
    Print,
    Printed,
    PrinterProblem,
    Redraw,
    Scanned,
    Tick,
)

T0 = datetime(2026, 11, 29, 8, 0, 0)


def online() -> KioskApp:
    app = KioskApp()
    app.handle(Tick(T0))
    app.handle(Connection(True))
    return app


def test_scan_check_in_print() -> None:
    app = online()
    [check_in, _] = app.handle(Scanned(" A2026112900015 "))
    assert isinstance(check_in, CheckIn) and check_in.code == "A2026112900015"
    assert app.screen == CHECKING_IN
    assert app.handle(Scanned("P002")) == []  # one check-in at a time
    tickets = [ticket("CT016"), ticket("MR003", queue="MR")]
    assert app.handle(CheckedIn(check_in.key, tickets)) == [
        Print(tickets[0]),
        Print(tickets[1]),
        Redraw(),
    ]
    assert app.screen == TICKETS and app.unprinted == 2
    app.handle(Printed(tickets[0]))
    app.handle(Printed(tickets[1]))
    assert app.unprinted == 0
    app.handle(Tick(T0 + timedelta(seconds=30)))
    assert app.screen == IDLE


def test_the_same_slip_read_twice_is_one_scan() -> None:
    app = online()
    [check_in, _] = app.handle(Scanned("A1"))
    app.handle(CheckedIn(check_in.key, [ticket()]))
    assert app.handle(Scanned("A1")) == []
    app.handle(Tick(T0 + timedelta(seconds=11)))
    assert isinstance(app.handle(Scanned("A1"))[0], CheckIn)  # later: the patient wants it again


def test_refusal_unreachable_and_offline() -> None:
    app = online()
    [check_in, _] = app.handle(Scanned("A1"))
    app.handle(CheckInRefused(check_in.key, "该检查不是今天的"))
    assert app.screen == MESSAGE and app.message == {"text": "该检查不是今天的"}
    [check_in, _] = app.handle(Scanned("A2"))
    app.handle(CheckInUnreachable("some-other-key"))  # a stale answer changes nothing
    assert app.screen == CHECKING_IN
    app.handle(CheckInUnreachable(check_in.key))
    assert app.message == {"key": "core_unreachable"}
    app.handle(Connection(False))
    assert app.handle(Scanned("A3")) == [Redraw()]
    assert app.message == {"key": "core_unreachable"}


def test_printer_problems_are_shown_and_cleared() -> None:
    app = online()
    app.handle(PrinterProblem("paper_out"))
    assert app.printer_problem == "paper_out"
    app.handle(Printed(ticket()))
    assert app.printer_problem is None
    app.handle(PrinterProblem(None, paper_low=True))
    assert app.paper_low
