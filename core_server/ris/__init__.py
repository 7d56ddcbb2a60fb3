"""The RIS domain: patients, visits, orders, procedures, exams, appointments, worklist, MPPS.

Everything other packages use is here: the :class:`Ris` service (built once per core process
in ``core_server.server.build_core``), its input/output dataclasses and its refusals
(:class:`RisError` and its :class:`NotFound`, :class:`Conflict` and :class:`IllegalTransition`
are :class:`core_server.refusals.Refusal` with codes whose texts are in
``web/ris/messages.json``), and :mod:`~core_server.ris.person`, how a name is kept and shown.
"""

from core_server.ris import person
from core_server.ris.labels import code128
from core_server.ris.models import (
    EXAM_STATUS_CHANGED,
    Appointment,
    Conflict,
    Department,
    Exam,
    ExamStatus,
    IllegalTransition,
    NotFound,
    Order,
    OrderIn,
    Patient,
    PatientClass,
    PatientIn,
    PerformedStep,
    Priority,
    Procedure,
    ProcedureRequest,
    Requisition,
    RetakeKind,
    RisError,
    Room,
    Slot,
    StatusChange,
    UnmatchedStudy,
    Visit,
    VisitIn,
    WorklistItem,
)
from core_server.ris.performing import booked_another_day
from core_server.ris.service import EXAM_CHANGED, Ris

__all__ = [
    "EXAM_CHANGED",
    "EXAM_STATUS_CHANGED",
    "Appointment",
    "Conflict",
    "Department",
    "Exam",
    "ExamStatus",
    "IllegalTransition",
    "NotFound",
    "Order",
    "OrderIn",
    "Patient",
    "PatientClass",
    "PatientIn",
    "PerformedStep",
    "Priority",
    "Procedure",
    "ProcedureRequest",
    "Requisition",
    "RetakeKind",
    "Ris",
    "RisError",
    "Room",
    "Slot",
    "StatusChange",
    "UnmatchedStudy",
    "Visit",
    "VisitIn",
    "WorklistItem",
    "booked_another_day",
    "code128",
    "person",
]
