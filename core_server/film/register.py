"""The film sheet register read and updated: :class:`SheetRow` (one ``film_sheets`` row), an
exam's sheets, films without exam, one sheet, printed copies and the link to an exam. Readers
take an engine or the caller's open connection. ``sheets.py`` composes and stores sheets and
re-exports these; the cloud film, the QC page and the films-without-exam page read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select, update

from core_server import clock, db
from core_server.film.sheet import DEFAULT_FILM_SIZE, FILM_SIZES_MM
from core_server.film.tables import film_sheets
from core_server.refusals import NotFound


@dataclass(frozen=True)
class SheetRow:
    id: int
    exam_id: int | None
    accession_number: str
    patient_id: str
    modality: str
    study_instance_uid: str
    sop_instance_uid: str
    source: str
    calling_ae: str
    film_size: str
    display_format: str
    copies: int
    images: int
    created_at: datetime
    printed_at: datetime | None
    printer: str | None
    printed_copies: int
    series_instance_uid: str = ""
    orientation: str = "PORTRAIT"
    color: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def printed(self) -> bool:
        """A laser imager printed it (else it is cloud film only, so far)."""
        return self.printed_at is not None

    def aspect(self) -> tuple[int, int]:
        """(width, height) in tenths of millimetres, for an img's width/height attributes."""
        w, h = FILM_SIZES_MM.get(self.film_size, FILM_SIZES_MM[DEFAULT_FILM_SIZE])
        if self.orientation == "LANDSCAPE":
            w, h = h, w
        return round(w * 10), round(h * 10)

    def as_json(self) -> dict[str, Any]:
        """Everything, for staff."""
        values = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        values["created_at"] = clock.iso(self.created_at)
        values["printed_at"] = clock.iso(self.printed_at) if self.printed_at else None
        return values

    def as_dict(self) -> dict[str, Any]:
        """The sheet as a patient's page lists it: layout and aspect, no patient data."""
        w, h = self.aspect()
        return {
            "id": self.id,
            "exam_id": self.exam_id,
            "film_size": self.film_size,
            "display_format": self.display_format,
            "orientation": self.orientation,
            "modality": self.modality,
            "printed": self.printed,
            "aspect_width": w,
            "aspect_height": h,
        }


def _row(r: Any) -> SheetRow:
    return SheetRow(
        int(r.id),
        None if r.exam_id is None else int(r.exam_id),
        r.accession_number,
        r.patient_id,
        r.modality,
        r.study_instance_uid,
        r.sop_instance_uid,
        r.source,
        r.calling_ae,
        r.film_size,
        r.display_format,
        int(r.copies),
        int(r.images),
        r.created_at,
        r.printed_at,
        r.printer,
        int(r.printed_copies),
        r.series_instance_uid,
        r.orientation,
        bool(r.color),
    )


@contextmanager
def _reading(source: Engine | Connection) -> Iterator[Connection]:
    """Read on the caller's connection (its transaction), or on a new one."""
    if isinstance(source, Connection):
        yield source
    else:
        with db.read(source) as conn:
            yield conn


def sheets_of_exams(
    engine: Engine | Connection, exam_ids: Iterable[int]
) -> dict[int, list[SheetRow]]:
    """Each exam's sheets in the order they were made (exams without sheets are left out)."""
    ids = sorted(set(exam_ids))
    found: dict[int, list[SheetRow]] = {}
    if not ids:
        return found
    c = film_sheets.c
    with _reading(engine) as conn:
        rows = conn.execute(
            select(film_sheets).where(c.exam_id.in_(ids)).order_by(c.created_at, c.id)
        )
        for r in rows:
            found.setdefault(int(r.exam_id), []).append(_row(r))
    return found


def sheets_of_exam(
    engine: Engine | Connection, exam_id: int, study_uids: Iterable[str] = ()
) -> list[SheetRow]:
    """The exam's sheets in the order they were made: those registered to it, and those in
    its studies ``study_uids`` not yet matched to any exam (a patient sees both)."""
    c = film_sheets.c
    in_studies = c.exam_id.is_(None) & c.study_instance_uid.in_(list(study_uids) or [""])
    with _reading(engine) as conn:
        rows = conn.execute(
            select(film_sheets)
            .where(or_(c.exam_id == exam_id, in_studies))
            .order_by(c.created_at, c.id)
        )
        return [_row(r) for r in rows]


def sheet_count(engine: Engine, exam_id: int) -> int:
    with db.read(engine) as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(film_sheets)
                .where(film_sheets.c.exam_id == exam_id)
            ).scalar_one()
        )


def unmatched_sheets(engine: Engine, limit: int = 200) -> list[SheetRow]:
    """Films without exam, newest first."""
    c = film_sheets.c
    with db.read(engine) as conn:
        rows = conn.execute(
            select(film_sheets)
            .where(c.exam_id.is_(None))
            .order_by(c.created_at.desc())
            .limit(limit)
        )
        return [_row(r) for r in rows]


def sheet(engine: Engine | Connection, sheet_id: int) -> SheetRow:
    with _reading(engine) as conn:
        row = conn.execute(select(film_sheets).where(film_sheets.c.id == sheet_id)).first()
    if row is None:
        raise NotFound("film.sheet_not_found", sheet_id=sheet_id)
    return _row(row)


def _update(engine: Engine, sheet_id: int, **values: Any) -> None:
    with db.write(engine) as conn:
        done = conn.execute(
            update(film_sheets).where(film_sheets.c.id == sheet_id).values(**values)
        )
    if done.rowcount == 0:
        raise NotFound("film.sheet_not_found", sheet_id=sheet_id)


def mark_printed(engine: Engine, sheet_id: int, printer: str, copies: int, at: datetime) -> None:
    """A laser imager printed the sheet (``copies`` more copies)."""
    with db.write(engine) as conn:
        done = conn.execute(
            update(film_sheets)
            .where(film_sheets.c.id == sheet_id)
            .values(
                printed_at=at,
                printer=printer,
                printed_copies=film_sheets.c.printed_copies + copies,
            )
        )
    if done.rowcount == 0:
        raise NotFound("film.sheet_not_found", sheet_id=sheet_id)


def link_sheet(engine: Engine, sheet_id: int, exam_id: int) -> None:
    """Give a sheet its exam (a film without exam linked by an admin)."""
    _update(engine, sheet_id, exam_id=exam_id)
