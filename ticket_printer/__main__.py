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
from typing import Any

import pygame

from device_kit import cli, enrol_screen, enrolment, link
from device_kit.client import CoreRefused
from device_kit.drivers import Availability, HardwareError
from device_kit.program import (
    DeviceProgram,
    PolledInput,
    fetch_logo,
    getter,
    run_window,
    screen_needs,
)
from device_kit.readers import EvdevScanner, Scanner, SerialScanner
from device_kit.screen import Canvas, load_image
from device_kit.spool import Action, Outcome, Result, Spool
from device_kit.state import CachedLogo
from device_kit.systemd import Notifier
from ticket_printer import app as kiosk
from ticket_printer import ui
from ticket_printer.hardware import EscposPrinter, TicketPrinter
from ticket_printer.settings import Settings

log = logging.getLogger("ticket_printer")


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


class KioskProgram(DeviceProgram[kiosk.Event]):
    def __init__(
        self,
        settings: Settings,
        record: enrolment.Enrolment,
        printer: TicketPrinter,
        scanner: Scanner,
        canvas: Canvas,
        notifier: Notifier | None = None,
    ) -> None:
        super().__init__(settings, record, canvas, notifier)
        self.scanner = PolledInput(scanner)
        # The core's name for the header (GET devices/me on each connection); the setting
        # only covers a kiosk that has never reached its core.
        self.hospital = settings.hospital_name
        self.logo_cache = CachedLogo(settings.logo_file)
        self.logo: pygame.Surface | None = load_image(self.logo_cache.load())
        self.jobs = Spool(settings.jobs_file)
        self.printing = PrintWorker(
            printer, self.jobs, settings.retry_print_seconds, settings.printer_check_seconds
        )
        self.app = kiosk.KioskApp(show_seconds=settings.show_seconds, unprinted=len(self.jobs))

    def start(self) -> None:
        super().start()
        self.printing.start()

    def stop(self) -> None:
        super().stop()
        self.printing.stop()
        self.jobs.close()
        self.scanner.source.close()

    def scanned(self, code: str) -> None:
        self.handle(kiosk.Scanned(code))

    def handle(self, event: kiosk.Event) -> None:
        self._do(self.app.handle(event))

    def draw(self) -> None:
        ui.draw(self.canvas, self.app, self.text, self.hospital, self.logo)

    def status(self) -> str:
        return (
            f"{'online' if self.app.online else 'offline'}, printer "
            f"{self.app.printer_problem or 'ok'}, {self.app.unprinted} unprinted"
        )

    def poll(self) -> None:
        while not self.printing.events.empty():
            self.handle(self.printing.events.get_nowait())
        codes, change = self.scanner.poll()
        if change is not None:
            self.handle(kiosk.ScannerStatus(change))
        for code in codes:
            self.scanned(code)

    def translate(self, event: link.LinkEvent) -> kiosk.Event | None:
        if isinstance(event, link.Online):
            if event.online:
                self._identify()
            return event
        if isinstance(event, link.Pushed):
            # The kiosk shows no queue; a changed hospital name or logo is all it follows.
            if event.message.get("type") == "config.updated":
                self._identify()
            return None
        if not isinstance(event, link.Answer):
            return None
        if event.tag == "me":
            self._identified(event)
            return None
        if event.tag == "logo":
            self.logo = load_image(self.logo_cache.update(event.value, event.error))
            self._dirty = True
            return None
        if not event.tag.startswith("check-in:"):
            return None
        key = event.tag.removeprefix("check-in:")
        if isinstance(event.error, CoreRefused):
            return kiosk.CheckInRefused(key, event.error.message)
        if event.error is not None:
            log.error("check-in failed: %s", event.error)
            return kiosk.CheckInUnreachable(key)
        tickets = list((event.value or {}).get("tickets", []))
        for ticket in tickets:
            self.hospital = ticket.get("hospital_name") or self.hospital
        return kiosk.CheckedIn(key, tickets)

    def _identify(self) -> None:
        self.link.submit("me", getter("/api/queueing/devices/me"))

    def _identified(self, answer: link.Answer) -> None:
        if answer.error is not None:
            log.warning("could not ask the core for the hospital's name: %s", answer.error)
            return
        hospital = (answer.value or {}).get("hospital") or {}
        if hospital.get("name") and hospital["name"] != self.hospital:
            self.hospital = hospital["name"]
            self._dirty = True
        if hospital.get("logo_url"):
            self.link.submit("logo", fetch_logo)
        elif self.logo is not None:
            self.logo = load_image(self.logo_cache.update(None))  # the administrator removed it
            self._dirty = True

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
    return [
        screen_needs(settings),
        printer_for(settings).is_available(),
        scanner_for(settings).is_available(),
    ]


def run(settings: Settings, args: argparse.Namespace) -> int:
    record = enrol_screen.obtain(settings)  # by code when only core_url is set
    printer, scanner = printer_for(settings), scanner_for(settings)
    for availability in (printer.is_available(), scanner.is_available()):
        if not availability.ok:
            log.error("%s", availability.message())
    return run_window(
        settings, lambda canvas: KioskProgram(settings, record, printer, scanner, canvas)
    )


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(Settings, run, check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
