"""The capture station's state machine: typed events in, actions out; no I/O.

Patient first: until an exam is picked (from the room's worklist, the exam the queue calls in
the room, or an emergency without an order) nothing is captured, and the still pedal moves the
highlight while its long press picks. During an exam the pedals, keys, mouse and touch give a
still, a burst of n, a timed capture every N s and a clip start/stop. The wiring carries the
actions out (grab and spool a frame, queue an MPPS step) and answers with events (``Taken``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from capture_station import scope
from capture_station.contract import Capture, ExamContext, PedalPress
from capture_station.scope import Notice as ScopeNotice
from capture_station.scope import ScopeAnswered, ScopeCheck, ScopeScanned, ScopesFetched

# What a pedal, a key, a button on screen can ask for.
CAPTURE_COMMANDS = ("still", "burst", "timed", "clip")
EXAM_COMMANDS = ("delete", "end", "discontinue")
PICK_COMMANDS = ("pick", "next", "prev", "emergency", "refresh")
SCOPE_COMMANDS = ("scope", "scope_accept")  # the scope touched in the list; continue anyway
COMMANDS = CAPTURE_COMMANDS + EXAM_COMMANDS + PICK_COMMANDS + SCOPE_COMMANDS
# DICOM discontinuation reasons offered on screen (CID 9300 code meanings, by message key).
DISCONTINUE_REASONS = ("patient_refused", "equipment_failure", "patient_condition", "other")

# -- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A key, a button on screen or a mapped pedal. ``value``: the exam picked by touch (its
    index in the worklist), the capture to delete (its key), a discontinuation reason."""

    name: str
    value: Any = None


@dataclass(frozen=True)
class Pedal:
    press: PedalPress


@dataclass(frozen=True)
class Clock:
    """Every turn of the main loop: ``time.monotonic()``."""

    monotonic: float


@dataclass(frozen=True)
class WorklistFetched:
    exams: list[ExamContext]


@dataclass(frozen=True)
class WorklistFailed:
    error: str


@dataclass(frozen=True)
class CalledExam:
    """The exam the queue called (or started) in this room, None when nobody is called."""

    exam_id: int | None
    accession_number: str = ""


@dataclass(frozen=True)
class Picked:
    """An exam chosen or made (an emergency patient) by the wiring."""

    exam: ExamContext


@dataclass(frozen=True)
class Taken:
    """Captures written and fsynced in the spool: only now are they shown as taken."""

    captures: list[Capture]


@dataclass(frozen=True)
class TakeFailed:
    reason: str  # a message key: no_signal, disk_full...


@dataclass(frozen=True)
class ClipEnded:
    capture: Capture | None  # None: nothing was recorded (no signal the whole time)


@dataclass(frozen=True)
class SenderState:
    """What the background sender reports: reachable or not, how many are waiting, which
    captures have reached the archive."""

    online: bool
    unsent: int
    sent: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Restored:
    """What the spool held at start (after a crash): the exam under way and its captures."""

    exam: ExamContext | None
    captures: list[Capture]
    step_started: bool
    scope: scope.ScopeUse | None = None


Event = (
    Command
    | Pedal
    | Clock
    | WorklistFetched
    | WorklistFailed
    | CalledExam
    | Picked
    | Taken
    | TakeFailed
    | ClipEnded
    | SenderState
    | Restored
    | ScopeScanned
    | ScopesFetched
    | ScopeAnswered
)

# -- actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchWorklist:
    pass


@dataclass(frozen=True)
class FetchCalled:
    pass


@dataclass(frozen=True)
class BeginExam:
    """Persist the exam as the one under way (a restart resumes it)."""

    exam: ExamContext


@dataclass(frozen=True)
class CreateEmergency:
    """Make a temporary patient and exam (answered with ``Picked``)."""


@dataclass(frozen=True)
class TakeStill:
    count: int = 1  # a burst takes ``count`` consecutive frames


@dataclass(frozen=True)
class StartClip:
    max_seconds: float


@dataclass(frozen=True)
class StopClip:
    pass


@dataclass(frozen=True)
class DeleteCapture:
    key: str


@dataclass(frozen=True)
class StartStep:
    """MPPS N-CREATE IN PROGRESS for the exam (queued to the sender)."""

    exam: ExamContext


@dataclass(frozen=True)
class EndStep:
    """MPPS N-SET COMPLETED or DISCONTINUED (sent after the exam's captures are stored)."""

    exam: ExamContext
    status: str  # COMPLETED | DISCONTINUED
    reason: str = ""


@dataclass(frozen=True)
class Redraw:
    pass


Action = (
    FetchWorklist
    | FetchCalled
    | BeginExam
    | CreateEmergency
    | TakeStill
    | StartClip
    | StopClip
    | DeleteCapture
    | StartStep
    | EndStep
    | Redraw
    | scope.FetchScopes
    | scope.UseScope
    | scope.RecordScope
)


@dataclass(frozen=True)
class Notice:
    key: str
    values: dict[str, Any] = field(default_factory=dict)
    error: bool = False
    at: float = 0.0


@dataclass
class CaptureApp:
    pedal_keys: dict[str, str] = field(default_factory=dict)  # evdev code -> command
    pedal_long: dict[str, str] = field(default_factory=dict)  # evdev code -> long-press command
    long_press_seconds: float = 0.8
    burst_count: int = 5
    timed_seconds: float = 5.0
    clip_max_seconds: float = 60.0
    notice_seconds: float = 6.0
    worklist: list[ExamContext] = field(default_factory=list)
    called: CalledExam | None = None
    highlight: int = 0
    exam: ExamContext | None = None
    step_started: bool = False
    captures: list[Capture] = field(default_factory=list)
    online: bool = True
    unsent: int = 0
    timed_due: float | None = None
    clip_since: float | None = None
    clip_stopping: bool = False
    choosing_reason: bool = False
    notice: Notice | None = None
    scope: ScopeCheck = field(default_factory=ScopeCheck)
    now: float = 0.0
    _down: dict[str, float] = field(default_factory=dict)

    def start(self) -> list[Action]:
        return [FetchWorklist(), FetchCalled(), Redraw()]

    # -- what the screen shows ---------------------------------------------------------

    @property
    def timed_countdown(self) -> int | None:
        """Whole seconds to the next timed capture, None when timed capture is off."""
        if self.timed_due is None:
            return None
        return max(0, math.ceil(self.timed_due - self.now))

    @property
    def clip_seconds(self) -> float | None:
        return None if self.clip_since is None else max(0.0, self.now - self.clip_since)

    @property
    def highlighted(self) -> ExamContext | None:
        if not self.worklist:
            return None
        return self.worklist[min(self.highlight, len(self.worklist) - 1)]

    @property
    def shown_captures(self) -> list[Capture]:
        return [c for c in self.captures if c.state != "deleted"]

    # -- events ------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        match event:
            case Clock(monotonic):
                return self._clock(monotonic)
            case Command(name, value):
                return self._command(name, value)
            case Pedal(press):
                return self._pedal(press)
            case WorklistFetched(exams):
                self.worklist = list(exams)
                self._highlight_called()
                return [Redraw()]
            case WorklistFailed():
                return [Redraw()]
            case CalledExam():
                self.called = event
                self._highlight_called()
                return [Redraw()]
            case Picked(exam):
                return self._begin(exam)
            case Taken(captures):
                return self._taken(captures)
            case TakeFailed(reason):
                self._say(reason, error=True)
                return [Redraw()]
            case ClipEnded(capture):
                self.clip_since, self.clip_stopping = None, False
                return self._taken([capture]) if capture is not None else [Redraw()]
            case SenderState(online, unsent, sent):
                return self._sender(online, unsent, sent)
            case Restored(exam, captures, started, use):
                self.exam, self.captures, self.step_started = exam, list(captures), started
                self.scope.use = use
                return [scope.FetchScopes(), Redraw()] if self.scope.needed else [Redraw()]
            case ScopesFetched(scopes):
                self.scope.known = dict(scopes)
                return [Redraw()]
            case ScopeScanned(code):
                return self._command("scope", code)
            case ScopeAnswered():
                return self._scoped(self.scope.answered(self.exam, event))
        raise TypeError(f"unknown event {event!r}")

    def _clock(self, monotonic: float) -> list[Action]:
        self.now = monotonic
        actions: list[Action] = []
        if self.notice and monotonic - self.notice.at > self.notice_seconds:
            self.notice = None
            actions.append(Redraw())
        if self.timed_due is not None and monotonic >= self.timed_due:
            self.timed_due = monotonic + self.timed_seconds
            actions += [TakeStill(1), Redraw()]
        if (
            self.clip_since is not None
            and not self.clip_stopping
            and monotonic - self.clip_since >= self.clip_max_seconds
        ):
            self.clip_stopping = True
            actions += [StopClip(), Redraw()]
        if self.scope.use is not None:
            actions += self._scoped(self.scope.clock(self.exam, monotonic))
        return actions

    def _pedal(self, press: PedalPress) -> list[Action]:
        short, long = self.pedal_keys.get(press.code), self.pedal_long.get(press.code)
        self.now = max(self.now, press.monotonic)
        # A long press means something only while no exam is under way (pick/next); during
        # an exam the pedal acts the moment it goes down, for the shortest pedal-to-still.
        waits = long is not None and self.exam is None
        if press.down:
            if waits:
                self._down[press.code] = press.monotonic
                return []
            return self._command(short, None) if short else []
        since = self._down.pop(press.code, None)
        if since is None:
            return []
        if long is not None and press.monotonic - since >= self.long_press_seconds:
            return self._command(long, None)
        return self._command(short, None) if short else []

    def _command(self, name: str, value: Any) -> list[Action]:
        if self.exam is None:
            return self._choose(name, value)
        if name == "scope":
            return self._scoped(self.scope.given(self.exam, str(value or ""), self.now))
        if name == "scope_accept":
            return self._scoped(self.scope.accept(self.exam))
        if name in CAPTURE_COMMANDS:
            waits = self.scope.blocks()
            if waits is not None:
                # Endoscopy: no picture until the scope is checked (or continued anyway).
                scope_code = self.scope.use.code if self.scope.use else ""
                self._say(waits, error=True, scope=scope_code)
                return [Redraw()]
            return self._capture(name)
        if name == "delete":
            return self._delete(value)
        if name == "end":
            return self._end("COMPLETED", "")
        if name == "discontinue":
            if value is None:
                self.choosing_reason = not self.choosing_reason
                return [Redraw()]
            return self._end("DISCONTINUED", str(value))
        if name == "refresh":
            return [FetchWorklist(), FetchCalled()]
        # Picking another exam while one is under way: the operator must end this one first.
        if name in ("pick", "emergency"):
            self._say("end_exam_first", error=True)
            return [Redraw()]
        return []

    def _choose(self, name: str, value: Any) -> list[Action]:
        """No exam under way: move through the worklist, pick, or make an emergency."""
        if name in ("next", "prev", "still"):
            # The still pedal moves the highlight until an exam is picked.
            if self.worklist:
                step = -1 if name == "prev" else 1
                self.highlight = (self.highlight + step) % len(self.worklist)
            return [Redraw()]
        if name == "pick":
            if isinstance(value, int) and 0 <= value < len(self.worklist):
                self.highlight = value
            exam = self.highlighted
            if exam is None:
                self._say("worklist_empty", error=True)
                return [Redraw()]
            return self._begin(exam)
        if name == "emergency":
            return [CreateEmergency()]
        if name == "refresh":
            return [FetchWorklist(), FetchCalled()]
        if name in CAPTURE_COMMANDS or name in EXAM_COMMANDS or name in SCOPE_COMMANDS:
            self._say("pick_patient_first", error=True)
            return [Redraw()]
        return []

    def _begin(self, exam: ExamContext) -> list[Action]:
        if self.exam is not None and self.exam.accession_number != exam.accession_number:
            self._say("end_exam_first", error=True)
            return [Redraw()]
        self.exam, self.captures, self.step_started = exam, [], False
        self.choosing_reason = False
        return [BeginExam(exam), *self.scope.begin(), Redraw()]

    def _capture(self, name: str) -> list[Action]:
        actions: list[Action] = []
        if not self.step_started and self.exam is not None:
            # MPPS IN PROGRESS at the first capture, so the RIS shows the exam under way.
            self.step_started = True
            actions.append(StartStep(self.exam))
        if name == "still":
            actions.append(TakeStill(1))
        elif name == "burst":
            actions.append(TakeStill(self.burst_count))
        elif name == "timed":
            if self.timed_due is None:
                self.timed_due = self.now + self.timed_seconds
                actions.append(TakeStill(1))
            else:
                self.timed_due = None
        elif name == "clip":
            if self.clip_since is None:
                self.clip_since, self.clip_stopping = self.now, False
                actions.append(StartClip(self.clip_max_seconds))
            elif not self.clip_stopping:
                self.clip_stopping = True
                actions.append(StopClip())
        return [*actions, Redraw()]

    def _taken(self, captures: list[Capture]) -> list[Action]:
        known = {c.key for c in self.captures}
        ours = self.exam.accession_number if self.exam else None
        for capture in captures:
            if capture.key not in known and capture.exam.accession_number == ours:
                self.captures.append(capture)
        self.unsent += len(captures)
        return [Redraw()]

    def _delete(self, key: Any) -> list[Action]:
        unsent = [c for c in self.captures if c.state == "taken"]
        if key is None:
            target = unsent[-1] if unsent else None
        else:
            target = next((c for c in unsent if c.key == key), None)
        if target is None:
            # Sent already (the archive has it) or nothing taken.
            self._say("nothing_to_delete", error=True)
            return [Redraw()]
        target.state = "deleted"
        self.unsent = max(0, self.unsent - 1)
        return [DeleteCapture(target.key), Redraw()]

    def _end(self, status: str, reason: str) -> list[Action]:
        assert self.exam is not None
        actions: list[Action] = []
        if self.clip_since is not None and not self.clip_stopping:
            actions.append(StopClip())
        if not self.step_started:
            # Nothing was captured: still tell the RIS, as a modality does (a step that
            # begins and ends), so a discontinued exam goes back to the queue.
            actions.append(StartStep(self.exam))
        actions.append(EndStep(self.exam, status, reason))
        self._say("exam_ended" if status == "COMPLETED" else "exam_discontinued")
        self.exam, self.captures, self.step_started = None, [], False
        self.timed_due, self.clip_since, self.clip_stopping = None, None, False
        self.choosing_reason = False
        self.scope.use = None
        return [*actions, FetchWorklist(), FetchCalled(), Redraw()]

    def _sender(self, online: bool, unsent: int, sent: frozenset[str]) -> list[Action]:
        changed = online != self.online or unsent != self.unsent
        self.online, self.unsent = online, unsent
        for capture in self.captures:
            if capture.key in sent and capture.state == "taken":
                capture.state, changed = "sent", True
        return [Redraw()] if changed else []

    def _scoped(self, outcome: tuple[list[Any], ScopeNotice]) -> list[Action]:
        actions, notice = outcome
        if notice is not None:
            key, values, error = notice
            self._say(key, error=error, **values)
        return [*actions, Redraw()] if actions or notice else []

    def _highlight_called(self) -> None:
        called = self.called
        if called is None or self.exam is not None:
            return
        for index, exam in enumerate(self.worklist):
            if (called.exam_id is not None and exam.exam_id == called.exam_id) or (
                called.accession_number and exam.accession_number == called.accession_number
            ):
                self.highlight = index
                return

    def _say(self, key: str, error: bool = False, **values: Any) -> None:
        self.notice = Notice(key, values, error, self.now)
