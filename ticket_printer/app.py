"""The check-in kiosk's state machine: scans in, check-ins and print jobs out; no I/O.

A scan asks the core to check the patient in (with an idempotency key kept for that scan, so
a retried request never makes a second ticket). Each ticket the core issues becomes a print
job on disk before anything is printed; a job leaves the disk only once the printer took it.
Paper out or an offline printer: the screen says so and shows the ticket number, the job is
kept and printed as soon as the printer is back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from device_kit.events import Connection, Redraw, Tick

# -- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scanned:
    code: str


@dataclass(frozen=True)
class CheckedIn:
    key: str
    tickets: list[dict[str, Any]]


@dataclass(frozen=True)
class CheckInRefused:
    key: str
    text: str  # the core's words, in the kiosk's language


@dataclass(frozen=True)
class CheckInUnreachable:
    key: str


@dataclass(frozen=True)
class Printed:
    ticket: dict[str, Any]


@dataclass(frozen=True)
class PrinterProblem:
    """The printer failed (``paper_out`` / ``printer_offline``) or, with None, is fine again."""

    reason: str | None
    paper_low: bool = False


@dataclass(frozen=True)
class ScannerStatus:
    ok: bool


Event = (
    Connection
    | Scanned
    | CheckedIn
    | CheckInRefused
    | CheckInUnreachable
    | Printed
    | PrinterProblem
    | ScannerStatus
    | Tick
)

# -- actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckIn:
    code: str
    key: str  # Idempotency-Key


@dataclass(frozen=True)
class Print:
    ticket: dict[str, Any]


Action = CheckIn | Print | Redraw

# What the screen shows.
IDLE, CHECKING_IN, TICKETS, MESSAGE = "idle", "checking_in", "tickets", "message"


@dataclass
class KioskApp:
    show_seconds: float = 15.0  # how long tickets / messages stay before the welcome screen
    same_scan_seconds: float = 10.0  # the same code again within this time is one scan
    online: bool = False
    refused: bool = False
    screen: str = IDLE
    tickets: list[dict[str, Any]] = field(default_factory=list)
    message: dict[str, str] | None = None  # {"key": catalogue key} or the core's {"text"}
    printer_problem: str | None = None
    paper_low: bool = False
    scanner_ok: bool = True
    unprinted: int = 0  # jobs on disk not printed yet (set by the wiring at start)
    now: datetime = field(default_factory=datetime.now)
    _pending: tuple[str, str] | None = None  # (code, idempotency key) being checked in
    _last_scan: tuple[str, datetime] | None = None
    _shown_at: datetime | None = None

    def handle(self, event: Event) -> list[Action]:
        match event:
            case Connection(online, reason):
                self.online, self.refused = online, reason == "refused"
                return [Redraw()]
            case Scanned(code):
                return self._scanned(code.strip())
            case CheckedIn(key, tickets):
                if self._pending is None or self._pending[1] != key:
                    return []
                self._pending = None
                self.tickets = tickets
                self.unprinted += len(tickets)
                self._show(TICKETS if tickets else MESSAGE, None if tickets else "no_exam_today")
                return [*(Print(t) for t in tickets), Redraw()]
            case CheckInRefused(key, words):
                if self._pending is None or self._pending[1] != key:
                    return []
                self._pending = None
                self._show(MESSAGE, None, {"text": words})
                return [Redraw()]
            case CheckInUnreachable(key):
                if self._pending is None or self._pending[1] != key:
                    return []
                self._pending = None
                self._show(MESSAGE, "core_unreachable")
                return [Redraw()]
            case Printed():
                self.unprinted = max(0, self.unprinted - 1)
                self.printer_problem = None
                return [Redraw()]
            case PrinterProblem(reason, paper_low):
                self.printer_problem, self.paper_low = reason, paper_low
                return [Redraw()]
            case ScannerStatus(ok):
                self.scanner_ok = ok
                return [Redraw()]
            case Tick(now):
                self.now = now
                shown = self._shown_at
                showing = self.screen in (TICKETS, MESSAGE) and shown is not None
                if showing and (now - shown).total_seconds() > self.show_seconds:  # type: ignore[operator]
                    self.screen, self.tickets, self.message = IDLE, [], None
                return [Redraw()]
        raise TypeError(f"unknown event {event!r}")

    def _scanned(self, code: str) -> list[Action]:
        if not code or self._pending is not None:
            return []  # nothing read, or a check-in is under way: one at a time
        last = self._last_scan
        if (
            last
            and last[0] == code
            and (self.now - last[1]).total_seconds() < self.same_scan_seconds
        ):
            return []  # the scanner read the same slip twice
        self._last_scan = (code, self.now)
        if not self.online:
            self._show(MESSAGE, "core_unreachable")
            return [Redraw()]
        key = uuid.uuid4().hex
        self._pending = (code, key)
        self.screen, self.tickets, self.message = CHECKING_IN, [], None
        return [CheckIn(code, key), Redraw()]

    def _show(self, screen: str, key: str | None, core_text: dict[str, str] | None = None) -> None:
        self.screen = screen
        self.message = core_text or ({"key": key} if key else None)
        self._shown_at = self.now
