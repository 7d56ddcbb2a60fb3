"""Print jobs on disk: paper out keeps the ticket, it is printed when paper is back, and a
restart of the kiosk loses nothing."""

from __future__ import annotations

import time
from pathlib import Path

from device_kit.spool import Spool
from tests.ticket_printer.tickets import ticket
from ticket_printer.__main__ import PrintWorker
from ticket_printer.app import Printed, PrinterProblem
from ticket_printer.hardware import RecordingPrinter


def next_event(worker: PrintWorker, timeout: float = 10):  # type: ignore[no-untyped-def]
    return worker.events.get(timeout=timeout)  # the timeout only stops a hang


def test_paper_out_keeps_the_ticket_until_it_prints(tmp_path: Path) -> None:
    printer = RecordingPrinter(fail="paper_out")
    jobs = Spool(tmp_path / "jobs.sqlite")
    worker = PrintWorker(printer, jobs, retry=0.05, check=0.05).start()
    try:
        worker.add(ticket("CT016"))
        worker.add(ticket("CT017"))
        assert next_event(worker) == PrinterProblem("paper_out")
        assert [j.path for j in jobs.pending()] == ["CT016", "CT017"]
        printer.fail = None  # paper loaded
        assert next_event(worker) == Printed(ticket("CT016"))
        assert next_event(worker) == Printed(ticket("CT017"))
        assert next_event(worker) == PrinterProblem(None)
        assert [t["number"] for t in printer.printed] == ["CT016", "CT017"]
        assert len(jobs) == 0
    finally:
        worker.stop()
        jobs.close()


def test_unprinted_tickets_survive_a_restart(tmp_path: Path) -> None:
    offline = RecordingPrinter(fail="printer_offline")
    jobs = Spool(tmp_path / "jobs.sqlite")
    worker = PrintWorker(offline, jobs, retry=0.05).start()
    worker.add(ticket("CT016"))
    assert next_event(worker) == PrinterProblem("printer_offline")
    worker.stop()
    jobs.close()

    printer = RecordingPrinter()
    jobs = Spool(tmp_path / "jobs.sqlite")
    worker = PrintWorker(printer, jobs, retry=0.05).start()
    try:
        worker.add(ticket("CT017"))
        assert next_event(worker) == Printed(ticket("CT016"))  # the old one first
        assert next_event(worker) == Printed(ticket("CT017"))
        deadline = time.monotonic() + 5
        while len(jobs) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [t["number"] for t in printer.printed] == ["CT016", "CT017"]
    finally:
        worker.stop()
        jobs.close()
