"""Which exam a pathology result belongs to, tried in this order:

1. each number the result carries (OBR-3 filler, OBR-2 placer, ORC-3, ORC-2, OBR-18/19) as an
   accession number of the RIS;
2. the filler order number, then the placer order number with its application, as an order
   of the RIS with exactly one exam;
3. the patient ID alone, when that patient has exactly one open follow-up case.

A candidate found by number whose patient differs from the result's PID-3 is not a match (a
number mistyped in the pathology system must not put a result on another patient). No match
is no guess: the result is kept unmatched for a doctor to assign."""

from __future__ import annotations

from core_server.followup.models import PathologyIn
from core_server.ris import Exam, Ris, RisError


def exam_for(ris: Ris, result: PathologyIn, open_exams: list[int]) -> Exam | None:
    for number in dict.fromkeys(n.strip() for n in result.numbers if n.strip()):
        try:
            exam = ris.exam_by_accession(number)
        except RisError:
            continue
        if _same_patient(exam, result):
            return exam
    for lookup in (
        {"filler_order_number": result.filler_number},
        {
            "placer_order_number": result.placer_number,
            "placer_application": result.placer_application,
        },
    ):
        if not next(iter(lookup.values())):
            continue
        try:
            order = ris.order(**lookup)
        except RisError:
            continue
        if len(order.exams) == 1 and _same_patient(order.exams[0], result):
            return order.exams[0]
    if result.patient_id and len(open_exams) == 1:
        return ris.exam(open_exams[0])
    return None


def _same_patient(exam: Exam, result: PathologyIn) -> bool:
    return not result.patient_id or exam.patient_id == result.patient_id
