"""What every statistics figure is asked for: a range of the hospital's days and the usual
dimensions of a Chinese imaging department (科室, 设备类型, 检查室, 检查项目, 申请科室, 患者类型).

An exam belongs to the local day of its **exam time**: when it was booked for (``scheduled_at``;
a walk-in is booked for the moment it was registered), or failing that when it was created.
Days are the hospital's (``clock.local_day_bounds``), whatever the machine's zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func

from core_server import clock
from core_server.db import UtcDateTime
from core_server.refusals import Invalid
from core_server.ris.tables import ris_exams, ris_orders, ris_visits

# How long a range a figure may be asked for at once (a few years of a busy department).
MAX_DAYS = 3 * 366

# The exam time every figure counts by (see the module's docstring).
EXAM_TIME = func.coalesce(ris_exams.c.scheduled_at, ris_exams.c.created_at, type_=UtcDateTime())

# The dimensions, each the column it filters and groups by.
DIMENSIONS: dict[str, Any] = {
    "department": ris_exams.c.department,
    "modality": ris_exams.c.modality,
    "room": ris_exams.c.room,
    "procedure_code": ris_exams.c.procedure_code,
    "referring_department": ris_orders.c.referring_department,
    "patient_class": ris_visits.c.patient_class,
}


@dataclass(frozen=True)
class Filters:
    """``start``..``end``: hospital days, both included. Each dimension left empty is all."""

    start: date
    end: date
    department: str = ""
    modality: str = ""
    room: str = ""
    procedure_code: str = ""
    referring_department: str = ""
    patient_class: str = ""

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Filters:
        """From query parameters (``start``/``end`` as ISO dates; default: this month so
        far). A bad date or a range beyond :data:`MAX_DAYS` is ``statistics.bad_range``."""
        today = clock.today()
        try:
            start = (
                date.fromisoformat(params["start"]) if params.get("start") else today.replace(day=1)
            )
            end = date.fromisoformat(params["end"]) if params.get("end") else today
        except ValueError:
            raise Invalid(
                "statistics.bad_range", start=params.get("start", ""), end=params.get("end", "")
            ) from None
        if end < start or (end - start).days >= MAX_DAYS:
            raise Invalid("statistics.bad_range", start=start.isoformat(), end=end.isoformat())
        chosen = {name: params.get(name, "").strip() for name in DIMENSIONS}
        return cls(start=start, end=end, **chosen)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The first moment of ``start`` and the first moment after ``end``, aware."""
        return clock.local_day_bounds(self.start)[0], clock.local_day_bounds(self.end)[1]

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def chosen(self) -> dict[str, str]:
        """The dimensions that narrow the figure (for titles, exports and drill-down links)."""
        return {name: getattr(self, name) for name in DIMENSIONS if getattr(self, name)}

    def as_params(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), **self.chosen()}

    def narrowed(self, **values: str) -> Filters:
        """The same range with more dimensions fixed (a drill-down)."""
        chosen: dict[str, Any] = {k: v for k, v in values.items() if k in DIMENSIONS}
        return replace(self, **chosen)

    def where(self) -> ColumnElement[bool]:
        """The condition on exams (joined as :func:`exams_joined`): in range, chosen dimensions."""
        start, end = self.bounds
        terms = [start <= EXAM_TIME, end > EXAM_TIME]
        terms += [DIMENSIONS[name] == value for name, value in self.chosen().items()]
        return and_(*terms)


def exams_joined(query: Select[Any]) -> Select[Any]:
    """``query`` over exams with their order and (if any) visit: every dimension reachable."""
    return query.select_from(
        ris_exams.join(ris_orders, ris_orders.c.id == ris_exams.c.order_fk).outerjoin(
            ris_visits, ris_visits.c.id == ris_orders.c.visit_fk
        )
    )
