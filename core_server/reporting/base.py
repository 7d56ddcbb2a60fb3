"""What every part of the reporting service shares: the engine, the bus, the RIS and the
archive; write transactions (one at a time on PostgreSQL, so the outboxes read by cursor
never skip an id); the settings, a doctor's grade and a department's sign-off levels, read by
every step.

The service's jobs each live in their own module (:mod:`~core_server.reporting.setup`,
:mod:`~core_server.reporting.editing`, :mod:`~core_server.reporting.workflow`,
:mod:`~core_server.reporting.templates`, :mod:`~core_server.reporting.worklist`,
:mod:`~core_server.reporting.critical`) as a part of
:class:`~core_server.reporting.service.Reporting` built on this base.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from core_server import db
from core_server.events import EventBus
from core_server.reporting import signoff
from core_server.reporting.models import Conflict, Grade, ReportingError
from core_server.reporting.tables import (
    reporting_department_levels,
    reporting_doctor_grades,
    reporting_settings,
)
from core_server.ris import ExamStatus, Ris

log = logging.getLogger(__name__)

# Settings an administrator may change (name -> default).
SETTINGS: dict[str, int] = {
    "lock_minutes": 10,  # an editing lock not renewed (autosave) for this long is free again
    "default_levels": 2,  # sign-off levels of a department without its own setting
    "critical_escalate_minutes": 10,  # an unacknowledged critical value escalates after this
}
REPORTABLE = (ExamStatus.COMPLETED, ExamStatus.REPORTED, ExamStatus.VERIFIED)

# Exam ids -> the accession number of the retake each exam's report waits for.
RetakeWait = Callable[[list[int]], dict[int, str]]

# Any fixed 64-bit key: the PostgreSQL advisory lock every reporting write transaction takes.
_WRITE_LOCK = 0x52505457  # "RPTW"


@dataclass(frozen=True)
class Doctor:
    """Who acts: the signed-in user's name and role (the grade is looked up from both)."""

    username: str
    role: str


class ServiceBase:
    engine: Engine
    bus: EventBus
    ris: Ris
    archive: Any
    retake_waits: list[RetakeWait]

    def waiting_for_retake(self, exam_ids: list[int]) -> dict[int, str]:
        """The exams (of ``exam_ids``) whose report waits for a retake to be performed."""
        waiting: dict[int, str] = {}
        for wait in self.retake_waits:
            waiting.update(wait(exam_ids))
        return waiting

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with db.write(self.engine) as conn:
                # The workflow history and the alert events are outboxes read by cursor.
                db.serialize_writes(conn, _WRITE_LOCK)
                yield conn
        except IntegrityError as exc:
            log.info("reporting write refused by a constraint: %s", exc.orig)
            raise Conflict("reporting.concurrent") from exc

    def _scalar(self, query: Any, conn: Connection | None) -> Any:
        """One value, in the caller's transaction or a read of its own."""
        if conn is not None:
            return conn.execute(query).scalar()
        with db.read(self.engine) as own:
            return own.execute(query).scalar()

    def setting(self, name: str, conn: Connection | None = None) -> int:
        if name not in SETTINGS:
            raise ReportingError("reporting.settings.unknown", name=name)
        query = select(reporting_settings.c.value).where(reporting_settings.c.name == name)
        value = self._scalar(query, conn)
        return int(value) if value is not None else SETTINGS[name]

    def grade(self, doctor: Doctor, conn: Connection | None = None) -> Grade | None:
        """The doctor's grade: set by an administrator, else resident for reporting doctors and
        attending for reviewing doctors; None for everyone else (they write no reports)."""
        if doctor.role not in signoff.ROLE_GRADES:
            return None
        query = select(reporting_doctor_grades.c.grade).where(
            reporting_doctor_grades.c.username == doctor.username
        )
        value = self._scalar(query, conn)
        return Grade(value) if value else signoff.ROLE_GRADES[doctor.role]

    def levels(self, department: str, conn: Connection | None = None) -> int:
        """The department's sign-off levels (1, 2 or 3), else the default setting."""
        query = select(reporting_department_levels.c.levels).where(
            reporting_department_levels.c.department == department
        )
        if conn is None:
            with db.read(self.engine) as own:
                return self.levels(department, own)
        value = conn.execute(query).scalar()
        return int(value) if value else self.setting("default_levels", conn)
