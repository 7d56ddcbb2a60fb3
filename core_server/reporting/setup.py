"""What an administrator sets up for reporting: the settings (lock minutes, default sign-off
levels, critical-value escalation), doctors' grades and departments' sign-off levels."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from core_server import db
from core_server.reporting.base import SETTINGS, ServiceBase
from core_server.reporting.models import Grade, ReportingError
from core_server.reporting.tables import (
    reporting_department_levels,
    reporting_doctor_grades,
    reporting_settings,
)

MAX_MINUTES = 24 * 60


class Setup(ServiceBase):
    def settings(self) -> dict[str, int]:
        return {name: self.setting(name) for name in SETTINGS}

    def change_settings(self, changes: dict[str, int]) -> dict[str, int]:
        for name, value in changes.items():
            if name not in SETTINGS:
                raise ReportingError("reporting.settings.unknown", name=name)
            low, high = 1, (3 if name == "default_levels" else MAX_MINUTES)
            if not low <= int(value) <= high:
                raise ReportingError("reporting.settings.range", name=name, low=low, high=high)
        with self._write() as conn:
            for name, value in changes.items():
                conn.execute(delete(reporting_settings).where(reporting_settings.c.name == name))
                conn.execute(insert(reporting_settings).values(name=name, value=str(int(value))))
        return self.settings()

    def set_grade(self, username: str, grade: str) -> None:
        try:
            Grade(grade)
        except ValueError:
            raise ReportingError("reporting.grade.unknown", grade=grade) from None
        grades = reporting_doctor_grades
        with self._write() as conn:
            conn.execute(delete(grades).where(grades.c.username == username))
            conn.execute(insert(grades).values(username=username, grade=grade))

    def grades(self) -> dict[str, str]:
        with db.read(self.engine) as conn:
            return {r.username: r.grade for r in conn.execute(select(reporting_doctor_grades))}

    def set_levels(self, department: str, levels: int) -> None:
        if levels not in (1, 2, 3):
            raise ReportingError("reporting.levels.invalid", levels=levels)
        table = reporting_department_levels
        with self._write() as conn:
            conn.execute(delete(table).where(table.c.department == department))
            conn.execute(insert(table).values(department=department, levels=levels))

    def department_levels(self) -> dict[str, int]:
        with db.read(self.engine) as conn:
            return {
                r.department: r.levels for r in conn.execute(select(reporting_department_levels))
            }
