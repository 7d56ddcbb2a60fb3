"""The check-in kiosk: wiring of config, the core link, the reader, the print jobs and pygame.

ticket-printer enrol --core-url URL --key KEY
ticket-printer [run]
ticket-printer check
"""

from __future__ import annotations

import argparse
import logging
import queue
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pygame

from device_kit import cli, enrolment, link
from device_kit.client import CoreClient, CoreRefused
from device_kit.drivers import Availability, HardwareError, Needs
from device_kit.i18n import Messages
from device_kit.screen import Canvas, open_window
from device_kit.spool import Action, Outcome, Result, Spool
from device_kit.systemd import Notifier
from ticket_printer import app as kiosk
from ticket_printer import ui
from ticket_printer.hardware import (
    EscposPrinter,
    EvdevScanner,
    Scanner,
    SerialScanner,
    TicketPrinter,
)
from ticket_printer.settings import Settings

log = logging.getLogger("ticket_printer")
RETRY_SCANNER_SECONDS = 2.0


class PrintWorker:
    """Prints the jobs on disk in order, off the main thread (a printer can take seconds or
    time out). A job leaves the disk only when the printer took it; a failure stops the line
    (tickets come out in order) and is retried every ``retry`` seconds."""

    def __init__(
        self, printer: TicketPrinter, jobs: Spool, retry: float = 5.0, check: float = 30.0
    ) -> None:
        self.printer = printer
        self.jobs = jobs
        self.events: queue.Queue[kiosk.Event] = queue.Queue()
        self._retry = retry
        self._check = check
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="printer", daemon=True)
        self._problem: str | None = None

    def start(self) -> PrintWorker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def add(self, ticket: dict[str, Any]) -> None:
        self.jobs.add("ticket", "PRINT", str(ticket.get("number", "")), ticket)
        self._wake.set()

    def _send(self, job: Action) -> Result:
        try:
            self.printer.print_ticket(job.body)
        except HardwareError as error:
            log.error("ticket %s not printed: %s", job.path, error)
            self._report(error.reason)
            return Result(job, Outcome.RETRY, error.reason)
        log.info("ticket %s printed", job.path)
        self.events.put(kiosk.Printed(job.body))
        return Result(job, Outcome.DONE)

    def _report(self, problem: str | None, low: bool = False) -> None:
        if problem != self._problem or low:
            self._problem = problem
            self.events.put(kiosk.PrinterProblem(problem, low))

    def _run(self) -> None:
        last_check = 0.0
        while not self._stop.is_set():
            self._wake.wait(self._retry if len(self.jobs) else self._check)
            self._wake.clear()
            if self._stop.is_set():
                return
            if len(self.jobs):
                self.jobs.replay(self._send)
                if not len(self.jobs):
                    self._report(None)
            elif time.monotonic() - last_check >= self._check:
                last_check = time.monotonic()
                try:
                    paper = self.printer.paper()
                except HardwareError as error:
                    self._report(error.reason)
                else:
                    self._report("paper_out" if paper == "out" else None, paper == "low")


class KioskProgram:
    def __init__(
        self,
        settings: Settings,
        record: enrolment.Enrolment,
        printer: TicketPrinter,
        scanner: Scanner,
        canvas: Canvas,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.text = Messages("ticket_printer", settings.language)
        self.canvas = canvas
        self.scanner = scanner
        self.notifier = notifier or Notifier()
        self.hospital = settings.hospital_name
        self.jobs = Spool(settings.jobs_file)
        self.printing = PrintWorker(
            printer, self.jobs, settings.retry_print_seconds, settings.printer_check_seconds
        )
        self.app = kiosk.KioskApp(show_seconds=settings.show_seconds, unprinted=len(self.jobs))
        self.link = link.CoreLink(
            CoreClient(record, settings.request_timeout),
            None,
            "/api/ws",
            settings.reconnect_min_delay,
            settings.reconnect_max_delay,
        )
        self._scanner_failed: float | None = None
        self._last_second = -1
        self._dirty = True

    def start(self) -> None:
        self.link.start()
        self.printing.start()

    def stop(self) -> None:
        self.link.stop()
        self.printing.stop()
        self.jobs.close()
        self.scanner.close()

    def scanned(self, code: str) -> None:
        self._do(self.app.handle(kiosk.Scanned(code)))

    def step(self, now: datetime | None = None) -> None:
        now = now or datetime.now()
        for event in self.link.events():
            translated = self._translate(event)
            if translated is not None:
                self._do(self.app.handle(translated))
        while not self.printing.events.empty():
            self._do(self.app.handle(self.printing.events.get_nowait()))
        self._poll_scanner()
        if now.second != self._last_second:
            self._last_second = now.second
            self._do(self.app.handle(kiosk.Tick(now)))
        if self._dirty:
            self._dirty = False
            ui.draw(self.canvas, self.app, self.text, self.hospital)
            self.canvas.show()
        self.notifier.alive()
        self.notifier.status(
            f"{'online' if self.app.online else 'offline'}, printer "
            f"{self.app.printer_problem or 'ok'}, {self.app.unprinted} unprinted"
        )

    def _poll_scanner(self) -> None:
        failed = self._scanner_failed
        if failed is not None and time.monotonic() - failed < RETRY_SCANNER_SECONDS:
            return
        try:
            codes = self.scanner.poll()
        except HardwareError as error:
            if failed is None:
                log.error("%s", error)
                self._do(self.app.handle(kiosk.ScannerStatus(False)))
            self._scanner_failed = time.monotonic()
            return
        if failed is not None:
            self._scanner_failed = None
            self._do(self.app.handle(kiosk.ScannerStatus(True)))
        for code in codes:
            self.scanned(code)

    def _translate(self, event: link.LinkEvent) -> kiosk.Event | None:
        if isinstance(event, link.Online):
            return kiosk.Connection(event.online, event.reason)
        if not isinstance(event, link.Answer) or not event.tag.startswith("check-in:"):
            return None  # pushed events: the kiosk shows no queue
        key = event.tag.removeprefix("check-in:")
        if isinstance(event.error, CoreRefused):
            return kiosk.CheckInRefused(key, event.error.zh, event.error.en)
        if event.error is not None:
            log.error("check-in failed: %s", event.error)
            return kiosk.CheckInUnreachable(key)
        tickets = list((event.value or {}).get("tickets", []))
        for ticket in tickets:
            self.hospital = ticket.get("hospital_name") or self.hospital
        return kiosk.CheckedIn(key, tickets)

    def _do(self, actions: Sequence[kiosk.Action]) -> None:
        for action in actions:
            if isinstance(action, kiosk.CheckIn):
                self.link.submit(f"check-in:{action.key}", _check_in(action.code, action.key))
            elif isinstance(action, kiosk.Print):
                # On disk before anything else happens to it.
                self.printing.add(action.ticket)
            self._dirty = True


def _check_in(code: str, key: str) -> Any:
    return lambda client: client.request(
        "POST", "/api/queueing/check-in", {"barcode": code}, idempotency_key=key
    )


def printer_for(settings: Settings) -> EscposPrinter:
    return EscposPrinter(
        settings.printer,
        settings.chinese,
        settings.printer_profile,
        settings.paper_width_dots,
        settings.font_path,
        settings.language,
        settings.printer_status,
    )


def scanner_for(settings: Settings) -> Scanner:
    if settings.scanner == "serial":
        return SerialScanner(settings.scanner_device, settings.scanner_baudrate)
    return EvdevScanner(settings.scanner_device)


def check(settings: Settings) -> list[Availability]:
    from device_kit.fonts import CJK_FONT_PATHS

    font = settings.font_path or CJK_FONT_PATHS[0]
    screen = Needs("screen").module("pygame").file(font, "Chinese font (fonts-wqy-microhei)")
    return [
        screen.result(),
        printer_for(settings).is_available(),
        scanner_for(settings).is_available(),
    ]


def run(settings: Settings, args: argparse.Namespace) -> int:
    record = enrolment.load(settings.enrolment_file, settings.program)
    printer, scanner = printer_for(settings), scanner_for(settings)
    for availability in (printer.is_available(), scanner.is_available()):
        if not availability.ok:
            log.error("%s", availability.message())
    canvas = open_window(settings.size, settings.fullscreen, "ticket-printer", settings.font_path)
    program = KioskProgram(settings, record, printer, scanner, canvas)
    program.start()
    program.notifier.ready()
    clock = pygame.time.Clock()
    try:
        while True:
            for event in pygame.event.get():
                if event.type == pygame.QUIT:
                    return 0
            program.step()
            clock.tick(settings.frames_per_second)
    finally:
        program.notifier.stopping()
        program.stop()
        pygame.quit()


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(Settings, run, check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
