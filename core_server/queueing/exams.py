"""The queue's seam to the RIS, which owns exams.

:class:`ExamDesk` is all the queue needs: find exams by what a barcode scanner reads, and move an
exam along as the patient goes through the room. :class:`RisExamDesk` is the real one, on the
:class:`core_server.ris.Ris` service; tests of the ordering rules hand tickets ``ExamInfo``
values directly and need no desk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from core_server import clock, ris
from core_server.queueing.models import ExamInfo

log = logging.getLogger(__name__)

# The RIS status machine in its forward order; the queue only ever moves an exam forward.
_FORWARD = ("scheduled", "arrived", "in_progress", "completed")


@dataclass(frozen=True)
class ExamRoom:
    """An exam room of the RIS, as the queue adopts it (a call room and its queue)."""

    code: str
    name: str
    modality: str
    department: str = ""


class ExamDesk(Protocol):
    def exam(self, exam_id: int) -> ExamInfo | None: ...

    def rooms(self) -> list[ExamRoom]:
        """The RIS's exam rooms (the queue's set-up starts from them)."""
        ...

    def find(self, barcode: str, day: date) -> list[ExamInfo]:
        """Exams a scanned code names: an accession number (exam barcode), or a patient ID or
        ID-card number (that patient's exams scheduled for ``day`` or not scheduled)."""
        ...

    def advance(
        self, exam_id: int, status: str, username: str, confirmed_other_day: bool = False
    ) -> None:
        """Move the exam forward to ``status`` (arrived, in_progress, completed) through the
        steps between; an exam already there or beyond is left alone. Arrival is the RIS's
        check-in, with the desk's confirmation of a check-in on another day than booked."""
        ...


class RisExamDesk:
    def __init__(self, service: ris.Ris) -> None:
        self.ris = service

    def exam(self, exam_id: int) -> ExamInfo | None:
        try:
            return self._info(self.ris.exam(exam_id))
        except ris.NotFound:
            return None

    def rooms(self) -> list[ExamRoom]:
        return [ExamRoom(r.code, r.name, r.modality, r.department) for r in self.ris.rooms()]

    def find(self, barcode: str, day: date) -> list[ExamInfo]:
        code = barcode.strip()
        if not code:
            return []
        try:
            return [self._info(self.ris.exam_by_accession(code))]
        except ris.NotFound:
            pass
        patients = self.ris.find_patients(patient_id=code) or self.ris.find_patients(
            id_card_number=code.upper()
        )
        found: list[ExamInfo] = []
        for patient in patients:
            if patient.merged_into:  # merged away: its exams moved to the surviving patient
                continue
            for exam in self.ris.exams(
                patient_id=patient.patient_id, status=["scheduled", "arrived"]
            ):
                when = exam.scheduled_at
                if when is None or clock.local(appointment(when)).date() == day:
                    found.append(self._info(exam))
        return found

    def advance(
        self, exam_id: int, status: str, username: str, confirmed_other_day: bool = False
    ) -> None:
        exam = self.ris.exam(exam_id)
        if exam.status not in _FORWARD or _FORWARD.index(exam.status) >= _FORWARD.index(status):
            return
        for step in _FORWARD[_FORWARD.index(exam.status) + 1 : _FORWARD.index(status) + 1]:
            if step == "arrived":
                self.ris.check_in(exam_id, username=username, confirm_other_day=confirmed_other_day)
            else:
                self.ris.change_status(exam_id, step, username=username, reason="queue")

    def _info(self, exam: ris.Exam) -> ExamInfo:
        sex, age = "", ""
        try:
            patient = self.ris.patient(exam.patient_id, exam.issuer)
            sex = patient.sex
            age = _age(patient.birth_date)
        except ris.NotFound:
            log.warning("exam %s names unknown patient %s", exam.id, exam.patient_id)
        return ExamInfo(
            exam_id=exam.id,
            accession=exam.accession_number,
            patient_id=exam.patient_id,
            patient_name=exam.patient_name,
            exam_name=exam.procedure_name,
            modality=exam.modality,
            department=exam.department,
            room=exam.room,
            sex=sex,
            age=age,
            scheduled_at=appointment(exam.scheduled_at) if exam.scheduled_at else None,
            emergency=exam.emergency,
            status=exam.status,
        )


def appointment(when: datetime) -> datetime:
    """A scheduled time as an aware datetime: the RIS gives aware ones; one without a zone is
    the hospital's wall clock (an HL7 TS without an offset), never UTC."""
    return clock.from_local(when)


def _age(birth: date | None) -> str:
    """DICOM-style age (45Y, 8M, 20D) as screens and tickets print it."""
    if birth is None:
        return ""
    today = clock.today()
    days = (today - birth).days
    years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    if years >= 2:
        return f"{years}Y"
    if days >= 60:
        return f"{days // 30}M"
    return f"{max(days, 0)}D"
