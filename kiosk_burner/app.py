"""The disc kiosk's state machine: touches, scans, the core's answers and the worker's steps
in; requests and redraws out; no I/O.

welcome -> identify (a scanned code, or ID-card number + birth date on the keypad) -> the
exams (those that may be burned, and those that may not with why) -> copies 1-3 -> the job
is queued in the core -> progress (building, burning n/m, labelling) -> done | an error the
patient can act on. Cancel at any step; no touch for ``idle_seconds`` goes back to welcome
(and forgets the patient). The job itself lives in the core; the worker burns it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from device_kit.events import Connection, Redraw, Tick

# -- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Touched:
    """A touch target the screen drew (``ui.hit``): ``start``, ``scan``, ``keypad``,
    ``key:0``..``key:9``, ``key:X``, ``delete``, ``next``, ``exam:<id>``, ``continue``,
    ``copies:<n>``, ``burn``, ``back``, ``cancel``, ``finish``."""

    target: str


@dataclass(frozen=True)
class Scanned:
    code: str


@dataclass(frozen=True)
class Identified:
    key: str
    patient: dict[str, Any]
    exams: list[dict[str, Any]]


@dataclass(frozen=True)
class Refused:
    """The core said no (``discs.not_found``...) to the request ``key``."""

    key: str
    code: str
    text: str  # the core's words, in the kiosk's language


@dataclass(frozen=True)
class Unreachable:
    key: str


@dataclass(frozen=True)
class JobQueued:
    key: str
    job: dict[str, Any]


@dataclass(frozen=True)
class JobStep:
    """The worker's word on a job: ``state`` one of the core's job states; ``reason`` a
    writer reason key (``no_blank_disc``, ``out_of_ink``, ``burn_failed``...) or ""."""

    job_id: int
    state: str
    disc: int = 0
    discs: int = 0
    reason: str = ""


@dataclass(frozen=True)
class WriterStatus:
    ok: bool
    problems: tuple[str, ...] = ()


Event = (
    Connection
    | Touched
    | Scanned
    | Identified
    | Refused
    | Unreachable
    | JobQueued
    | JobStep
    | WriterStatus
    | Tick
)

# -- actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Identify:
    key: str
    body: dict[str, str]  # {"code"} or {"id_card", "birth_date"}


@dataclass(frozen=True)
class QueueJob:
    key: str  # Idempotency-Key: a retried request never makes a second job
    exam_ids: tuple[int, ...]
    copies: int


@dataclass(frozen=True)
class CancelJob:
    job_id: int


Action = Identify | QueueJob | CancelJob | Redraw

# What the screen shows.
WELCOME, IDENTIFY, LOOKING_UP, EXAMS, COPIES = (
    "welcome",
    "identify",
    "looking_up",
    "exams",
    "copies",
)
QUEUING, PROGRESS, DONE, ERROR = "queuing", "progress", "done", "error"
# Keypad fields.
ID_CARD, BIRTH_DATE = "id_card", "birth_date"
MAX_COPIES = 3
# Writer reasons the patient cannot fix: staff must load discs or ink, or clear the robot.
DESK_REASONS = frozenset(
    {"no_blank_disc", "no_discs", "out_of_ink", "robot_error", "disc_too_small"}
)
# Reasons the worker retries on a new disc by itself.
RETRIED_REASONS = frozenset({"burn_failed", "verify_failed"})


@dataclass
class KioskApp:
    idle_seconds: float = 60.0  # no touch for this long: back to welcome, the patient forgotten
    show_seconds: float = 30.0  # how long "done" and errors stay
    online: bool = False
    refused: bool = False
    writer_ok: bool = True
    writer_problems: tuple[str, ...] = ()
    screen: str = WELCOME
    entering: str = ID_CARD  # the keypad field
    id_card: str = ""
    birth_date: str = ""  # the digits typed, YYYYMMDD
    patient: dict[str, Any] = field(default_factory=dict)
    exams: list[dict[str, Any]] = field(default_factory=list)
    picked: list[int] = field(default_factory=list)
    copies: int = 1
    job_id: int | None = None
    job_state: str = ""
    disc: int = 0
    discs: int = 0
    reason: str = ""  # a writer reason while the job waits or retries
    message: dict[str, str] | None = None  # {"key": catalogue key} or the core's {"text"}
    now: datetime = field(default_factory=datetime.now)
    _pending: str | None = None  # the key of the request under way
    _touched_at: datetime | None = None

    # -- what the screen asks ---------------------------------------------------------

    @property
    def may_start(self) -> bool:
        """New jobs only with the core reachable and the writer working."""
        return self.online and self.writer_ok

    @property
    def burnable(self) -> list[dict[str, Any]]:
        return [e for e in self.exams if e.get("may_burn")]

    @property
    def not_burnable(self) -> list[dict[str, Any]]:
        return [e for e in self.exams if not e.get("may_burn")]

    # -- the machine ------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        match event:
            case Connection(online, reason):
                self.online, self.refused = online, reason == "refused"
                if not online and self.screen in (IDENTIFY, EXAMS, COPIES, LOOKING_UP):
                    self._error("core_unreachable")
                return [Redraw()]
            case WriterStatus(ok, problems):
                self.writer_ok, self.writer_problems = ok, problems
                return [Redraw()]
            case Touched(target):
                self._touched_at = self.now
                return self._touched(target)
            case Scanned(code):
                return self._scanned(code.strip())
            case Identified(key, patient, exams) if key == self._pending:
                self._pending = None
                self.patient, self.exams = patient, exams
                self.picked = [int(e["exam_id"]) for e in self.burnable][:1]
                self._go(EXAMS)
                return [Redraw()]
            case Refused(key, code, words) if key == self._pending:
                self._pending = None
                self._error(None, {"text": words, "code": code})
                return [Redraw()]
            case Unreachable(key) if key == self._pending:
                self._pending = None
                self._error("core_unreachable")
                return [Redraw()]
            case JobQueued(key, job) if key == self._pending:
                self._pending = None
                self.job_id, self.job_state = int(job["id"]), str(job.get("state", "queued"))
                self.disc = self.discs = 0
                self._go(PROGRESS)
                return [Redraw()]
            case JobStep():
                return self._step(event)
            case Tick(now):
                self.now = now
                self._timeout()
                return [Redraw()]
            case Identified() | Refused() | Unreachable() | JobQueued():
                return []  # an answer to a request the patient walked away from
        raise TypeError(f"unknown event {event!r}")

    def _touched(self, target: str) -> list[Action]:
        if target == "cancel":
            return self._cancel()
        if self.screen == WELCOME and target in ("start", "keypad"):
            if not self.may_start:
                self._error("core_unreachable" if not self.online else "ask_desk")
                return [Redraw()]
            self._forget()
            self._go(IDENTIFY)
            return [Redraw()]
        if self.screen == IDENTIFY:
            return self._keypad(target)
        if self.screen == EXAMS:
            return self._exams(target)
        if self.screen == COPIES:
            return self._copies(target)
        if self.screen in (DONE, ERROR) and target in ("finish", "back"):
            self._welcome()
            return [Redraw()]
        return []

    def _scanned(self, code: str) -> list[Action]:
        # A scan starts over from welcome or the keypad; elsewhere it is a stray read.
        if not code or self.screen not in (WELCOME, IDENTIFY, ERROR, DONE):
            return []
        self._touched_at = self.now
        if not self.may_start:
            self._error("core_unreachable" if not self.online else "ask_desk")
            return [Redraw()]
        self._forget()
        return self._identify({"code": code})

    def _identify(self, body: dict[str, str]) -> list[Action]:
        key = uuid.uuid4().hex
        self._pending = key
        self._go(LOOKING_UP)
        return [Identify(key, body), Redraw()]

    def _keypad(self, target: str) -> list[Action]:
        value = self.id_card if self.entering == ID_CARD else self.birth_date
        limit = 18 if self.entering == ID_CARD else 8
        if target.startswith("key:"):
            digit = target.removeprefix("key:")
            if digit == "X" and (self.entering != ID_CARD or len(value) != 17):
                return []  # X is only the ID card's check digit
            if len(value) < limit:
                value += digit
        elif target == "delete":
            value = value[:-1]
        elif target == "back":
            if self.entering == BIRTH_DATE:
                self.entering = ID_CARD
                return [Redraw()]
            self._welcome()
            return [Redraw()]
        elif target == "next":
            return self._keypad_next()
        else:
            return []
        if self.entering == ID_CARD:
            self.id_card = value
        else:
            self.birth_date = value
        self.message = None
        return [Redraw()]

    def _keypad_next(self) -> list[Action]:
        if self.entering == ID_CARD:
            if len(self.id_card) not in (15, 18):
                self.message = {"key": "id_card_incomplete"}
                return [Redraw()]
            self.entering, self.message = BIRTH_DATE, None
            return [Redraw()]
        day = _birth_date(self.birth_date)
        if day is None:
            self.message = {"key": "birth_date_invalid"}
            return [Redraw()]
        self.message = None
        return self._identify({"id_card": self.id_card, "birth_date": day})

    def _exams(self, target: str) -> list[Action]:
        if target.startswith("exam:"):
            exam_id = int(target.removeprefix("exam:"))
            if exam_id not in {int(e["exam_id"]) for e in self.burnable}:
                return []  # one that may not be burned: its reason is shown, no pick
            if exam_id in self.picked:
                self.picked.remove(exam_id)
            else:
                self.picked.append(exam_id)
            return [Redraw()]
        if target == "continue" and self.picked:
            self._go(COPIES)
            return [Redraw()]
        if target == "back":
            self._welcome()
            return [Redraw()]
        return []

    def _copies(self, target: str) -> list[Action]:
        if target.startswith("copies:"):
            self.copies = min(MAX_COPIES, max(1, int(target.removeprefix("copies:"))))
            return [Redraw()]
        if target == "back":
            self._go(EXAMS)
            return [Redraw()]
        if target == "burn":
            if not self.may_start:
                self._error("core_unreachable" if not self.online else "ask_desk")
                return [Redraw()]
            key = uuid.uuid4().hex
            self._pending = key
            self._go(QUEUING)
            return [QueueJob(key, tuple(self.picked), self.copies), Redraw()]
        return []

    def _cancel(self) -> list[Action]:
        actions: list[Action] = [Redraw()]
        if self.screen == PROGRESS and self.job_id is not None:
            actions.insert(0, CancelJob(self.job_id))
        if self.screen == DONE or self.screen == WELCOME:
            actions = [Redraw()]
        self._welcome()
        return actions

    def _step(self, step: JobStep) -> list[Action]:
        if step.job_id != self.job_id or self.screen != PROGRESS:
            return []  # a job queued at the desk, or one the patient cancelled
        self.job_state, self.disc, self.discs = step.state, step.disc, step.discs
        self.reason = step.reason
        if step.state == "done":
            self._go(DONE)
        elif step.state == "failed":
            self._error("ask_desk" if step.reason in DESK_REASONS or not step.reason else None)
            if self.message is None:
                self.message = {"key": "burn_failed_final"}
        elif step.state == "cancelled":
            self._welcome()
        return [Redraw()]

    def _timeout(self) -> None:
        if self.screen == WELCOME or self.screen == PROGRESS or self._pending is not None:
            return  # nothing to forget / the disc is coming / an answer is due
        since = self._touched_at or self.now
        limit = self.show_seconds if self.screen in (DONE, ERROR) else self.idle_seconds
        if (self.now - since).total_seconds() > limit:
            self._welcome()

    def _go(self, screen: str) -> None:
        self.screen = screen
        self._touched_at = self.now
        if screen != ERROR:
            self.message = None

    def _error(self, key: str | None, core_text: dict[str, str] | None = None) -> None:
        self._go(ERROR)
        self.message = core_text or ({"key": key} if key else None)

    def _forget(self) -> None:
        self.entering, self.id_card, self.birth_date = ID_CARD, "", ""
        self.patient, self.exams, self.picked, self.copies = {}, [], [], 1
        self.job_id, self.job_state, self.disc, self.discs, self.reason = None, "", 0, 0, ""
        self.message, self._pending = None, None

    def _welcome(self) -> None:
        self._forget()
        self._go(WELCOME)


def _birth_date(digits: str) -> str | None:
    """YYYYMMDD typed on the keypad as an ISO date, or None if it is no real day."""
    if len(digits) != 8:
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).isoformat()
    except ValueError:
        return None
