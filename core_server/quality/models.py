"""What the quality-control service takes and gives: grades, reasons, grades given, retakes
sent, and its refusals (texts in ``web/quality/messages.json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from core_server import clock
from core_server.refusals import Refusal

# 优 / 良 / 中 / 差, the reporting module's grade words (one list for images and reports).
GRADES = ("excellent", "good", "fair", "poor")
# A grade below these must say why (one reason at least).
NEEDS_REASON = ("fair", "poor")


class QualityError(Refusal):
    status = 400


class NotFound(QualityError):
    status = 404


class Conflict(QualityError):
    status = 409


class Invalid(QualityError):
    status = 422


@dataclass(frozen=True)
class Reason:
    code: str
    name_zh: str
    name_en: str
    active: bool
    position: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImageGrade:
    """One grade given (the history keeps them all; the newest is the exam's grade)."""

    id: int
    exam_id: int
    grade: str
    reasons: list[str]
    note: str
    graded_by: str
    role: str
    graded_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "graded_at": clock.iso(self.graded_at)}


@dataclass(frozen=True)
class Retake:
    """An exam sent back: the RIS's retake exam, and whether it was performed."""

    id: int
    exam_id: int
    retake_exam_id: int
    retake_accession: str
    kind: str
    reasons: list[str]
    note: str
    sent_by: str
    sent_at: datetime
    done_at: datetime | None
    done_status: str

    @property
    def waiting(self) -> bool:
        return self.done_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "sent_at": clock.iso(self.sent_at),
            "done_at": clock.iso(self.done_at) if self.done_at else None,
            "waiting": self.waiting,
        }
