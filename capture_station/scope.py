"""The endoscope check before capture (15.1.2): part of the station's state machine, no I/O.

After an endoscopy exam is picked the endoscopist scans the scope's tag (a barcode scanner) or
touches it in the list (``GET /api/capture/scopes``). The station asks the core
(``POST /api/capture/exams/{id}/scope``), which records the use and answers with the scope's
warning: never disinfected, last cycle failed, unfinished, or older than the limit. Capture
waits for that answer; with a warning it waits for "continue anyway" (the operator's decision,
kept in the session record and on every capture taken after it). When the core does not answer
within ``wait_seconds`` (offline) capture goes on: the use stays in the device spool and is
sent when the core is back, and its warning is shown when it comes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from capture_station.contract import ExamContext

# asked: waiting for the core; ok: no warning; warned: waiting for "continue anyway";
# accepted: continued anyway; unanswered: the core did not answer in time (offline).
ScopeStatus = Literal["asked", "ok", "warned", "accepted", "unanswered"]
ALLOWS_CAPTURE = ("ok", "accepted", "unanswered")
# What the machine should say: message key, its values, is it an error; None: nothing.
Notice = tuple[str, dict[str, Any], bool] | None
# The core's warning codes -> the station's message keys.
WARNINGS = {
    "capture.scope.never_disinfected": "scope_never_disinfected",
    "capture.scope.disinfection_failed": "scope_disinfection_failed",
    "capture.scope.disinfection_unfinished": "scope_disinfection_unfinished",
    "capture.scope.disinfection_expired": "scope_disinfection_expired",
}


def warning_key(code: str | None) -> str:
    return WARNINGS.get(code or "", "scope_warning_other")


# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeScanned:
    """A code read by the barcode scanner."""

    code: str


@dataclass(frozen=True)
class ScopesFetched:
    """The core's scopes: (code, warning now or None), for the touch list."""

    scopes: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class ScopeAnswered:
    """The core's answer to a use: its warning (None: fit), or a refusal's message."""

    code: str
    warning: str | None = None
    refused: str = ""
    exam_id: int | None = None  # the exam it was asked for (None: the one under way)


# -- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchScopes:
    pass


@dataclass(frozen=True)
class UseScope:
    """Tell the core the exam uses this scope (spooled: sent later when offline)."""

    exam: ExamContext
    code: str


@dataclass(frozen=True)
class RecordScope:
    """Keep the scope's state with the exam under way (session record), e.g. "continued
    anyway" after a warning; the wiring logs it too."""

    exam: ExamContext
    use: ScopeUse


@dataclass
class ScopeUse:
    code: str
    status: ScopeStatus
    warning: str | None = None
    since: float = 0.0  # monotonic, when asked
    accepted_at: str = ""  # ISO, when "continue anyway" was pressed (the wiring fills it)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["since"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScopeUse:
        return cls(**{k: v for k, v in data.items() if k != "since"})


@dataclass
class ScopeCheck:
    """The scope part of :class:`~capture_station.app.CaptureApp`. Each method returns the
    actions and the notice (message key, values, is an error) the machine should show."""

    enabled: bool = False
    wait_seconds: float = 3.0
    known: dict[str, str | None] = field(default_factory=dict)  # code -> warning (the list)
    use: ScopeUse | None = None

    @property
    def choices(self) -> list[str]:
        return list(self.known)

    @property
    def needed(self) -> bool:
        """The screen shows the scope panel (nothing captured yet may go ahead)."""
        return self.enabled and (self.use is None or self.use.status not in ALLOWS_CAPTURE)

    def begin(self) -> list[Any]:
        self.use = None
        return [FetchScopes()] if self.enabled else []

    def blocks(self) -> str | None:
        """Why capture must wait (a message key), or None."""
        if not self.enabled:
            return None
        if self.use is None:
            return "scope_first"
        if self.use.status == "asked":
            return "scope_checking"
        if self.use.status == "warned":
            return "scope_confirm_first"
        return None

    def given(self, exam: ExamContext, code: str, now: float) -> tuple[list[Any], Notice]:
        code = code.strip()
        if not code:
            return [], None
        if exam.exam_id is None:
            # An emergency without an order is not in the RIS yet: nothing to tell the core;
            # the list's warning (if it knows the scope) still stops capture.
            return self._unanswered(exam, code, now)
        self.use = ScopeUse(code, "asked", since=now)
        return [UseScope(exam, code)], ("scope_checking", {"scope": code}, False)

    def answered(self, exam: ExamContext | None, answer: ScopeAnswered) -> tuple[list[Any], Notice]:
        use = self.use
        other_exam = (
            answer.exam_id is not None and exam is not None and exam.exam_id != answer.exam_id
        )
        if exam is None or use is None or use.code != answer.code or other_exam:
            return [], None  # an answer for a scope (or an exam) no longer in hand
        if answer.refused:
            self.use = None  # unknown scope: scan again
            return [], ("scope_refused", {"scope": answer.code, "message": answer.refused}, True)
        use.warning = answer.warning
        if answer.warning is None:
            use.status = "ok"
            return [RecordScope(exam, use)], ("scope_ok", {"scope": use.code}, False)
        if use.status == "accepted":
            # Continued anyway already (offline, on the list's warning): keep the decision.
            return [RecordScope(exam, use)], None
        use.status = "warned"
        return [RecordScope(exam, use)], (warning_key(answer.warning), {"scope": use.code}, True)

    def clock(self, exam: ExamContext | None, now: float) -> tuple[list[Any], Notice]:
        use = self.use
        if exam is None or use is None or use.status != "asked":
            return [], None
        if now - use.since < self.wait_seconds:
            return [], None
        return self._unanswered(exam, use.code, now)

    def accept(self, exam: ExamContext) -> tuple[list[Any], Notice]:
        use = self.use
        if use is None or use.status != "warned":
            return [], None
        use.status = "accepted"
        return [RecordScope(exam, use)], ("scope_accepted", {"scope": use.code}, True)

    def _unanswered(self, exam: ExamContext, code: str, now: float) -> tuple[list[Any], Notice]:
        warning = self.known.get(code)
        if warning is not None:
            self.use = ScopeUse(code, "warned", warning, since=now)
            return [RecordScope(exam, self.use)], (warning_key(warning), {"scope": code}, True)
        self.use = ScopeUse(code, "unanswered", since=now)
        return [RecordScope(exam, self.use)], ("scope_offline", {"scope": code}, False)
