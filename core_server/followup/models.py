"""What the follow-up service answers with: a follow-up case (the mark, the clinical facts
and, read from the report, the pathology result, the outcome and the agreement) and a
pathology result as received."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from core_server import clock, names

# A case's list on the page: due (open, due today or later, or without a date), overdue
# (open, due before today), done; all.
STATES = ("due", "overdue", "done", "all")


@dataclass(frozen=True)
class PathologyResult:
    id: int
    received_at: datetime
    sender: str
    control_id: str
    accession_number: str
    placer_number: str
    filler_number: str
    patient_id: str
    patient_name: str
    text: str
    observed_at: datetime | None
    exam_id: int | None
    matched_by: str
    matched_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("received_at", "observed_at", "matched_at"):
            out[key] = clock.iso(out[key]) if out[key] else None
        return out


@dataclass(frozen=True)
class Case:
    id: int
    exam_id: int
    accession_number: str
    patient_id: str
    patient_name: str
    modality: str
    procedure_name: str
    due_date: date | None
    note: str
    status: str  # open, done
    clinical_diagnosis: str
    treatment: str
    marked_by: str
    marked_at: datetime
    done_by: str
    done_at: datetime | None
    updated_by: str
    updated_at: datetime
    # From the exam's report (empty when the exam has none yet).
    report_id: int | None = None
    author: str = ""
    impression: str = ""
    pathology_result: str = ""
    clinical_outcome: str = ""
    agreement: str = ""
    agreement_by: str = ""
    results: tuple[PathologyResult, ...] = field(default=())

    @property
    def state(self) -> str:
        if self.status == "done":
            return "done"
        if self.due_date is not None and self.due_date < clock.today():
            return "overdue"
        return "due"

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "results"}
        out["due_date"] = self.due_date.isoformat() if self.due_date else None
        for key in ("marked_at", "done_at", "updated_at"):
            out[key] = clock.iso(out[key]) if out[key] else None
        out["state"] = self.state
        out["patient_name"] = names.display(self.patient_name)  # 李娜, never 李^娜
        out["results"] = [r.as_dict() for r in self.results]
        return out


@dataclass(frozen=True)
class PathologyIn:
    """A pathology result as the HL7 adapter read it: the numbers it may be matched by (in
    the order tried), the patient, the text."""

    text: str
    numbers: tuple[str, ...] = ()
    placer_number: str = ""
    placer_application: str = ""
    filler_number: str = ""
    patient_id: str = ""
    patient_name: str = ""
    observed_at: datetime | None = None
    sender: str = ""
    control_id: str = ""
