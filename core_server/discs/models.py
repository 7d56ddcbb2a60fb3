"""What a disc job is: its states and legal steps, and the job as the REST API answers it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core_server import clock

QUEUED, BUILDING, BURNING, LABELLING = "queued", "building", "burning", "labelling"
DONE, FAILED, CANCELLED = "done", "failed", "cancelled"
STATES = (QUEUED, BUILDING, BURNING, LABELLING, DONE, FAILED, CANCELLED)
ACTIVE = (BUILDING, BURNING, LABELLING)  # a kiosk holds the job (with a lease)
FINISHED = (DONE, FAILED, CANCELLED)
# What the holding kiosk may report from each state. The same state again is progress (disc 2
# of 3, a message) and renews the lease; labelling -> burning is the next disc.
PROGRESS = {
    BUILDING: (BUILDING, BURNING, FAILED),
    BURNING: (BURNING, LABELLING, DONE, FAILED),
    LABELLING: (LABELLING, BURNING, DONE, FAILED),
}
MAX_COPIES = 3
MAX_INTERRUPTIONS = 3  # leases run out this often (the kiosk died each time): failed
LEASE = timedelta(seconds=120)
EVENT = "discs.job"  # the bus topic and the journal's event type after each change


@dataclass(frozen=True)
class Step:
    state: str
    at: datetime
    message: str
    reason: str
    by: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "at": clock.iso(self.at),
            "message": self.message,
            "reason": self.reason,
            "by": self.by,
        }


@dataclass(frozen=True)
class DiscJob:
    id: int
    state: str
    exam_ids: tuple[int, ...]
    accession_numbers: tuple[str, ...]
    patient_id: str
    copies: int
    device: str | None
    requested_by: str
    holder: str | None
    lease_until: datetime | None
    interruptions: int
    discs_done: int
    discs_total: int
    fee_per_disc_fen: int
    fee_fen: int
    created_at: datetime
    updated_at: datetime
    steps: tuple[Step, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "exam_ids": list(self.exam_ids),
            "accession_numbers": list(self.accession_numbers),
            "patient_id": self.patient_id,
            "copies": self.copies,
            "device": self.device,
            "requested_by": self.requested_by,
            "holder": self.holder,
            "lease_until": clock.iso(self.lease_until) if self.lease_until else None,
            "interruptions": self.interruptions,
            "discs_done": self.discs_done,
            "discs_total": self.discs_total,
            "fee_per_disc_fen": self.fee_per_disc_fen,
            "fee_fen": self.fee_fen,
            "steps": [s.as_dict() for s in self.steps],
            "created_at": clock.iso(self.created_at),
            "updated_at": clock.iso(self.updated_at),
        }
