"""Film sheets for the phone: which sheets an exam has (``register.sheets_of_exam``) and each
sheet as a progressive JPEG sized for a phone's screen (``pictures.jpeg``, ``WIDTHS``), and one
audit row per sheet shown.

Who may see a sheet is the caller's business (the cloud-film page checks its link, the QC page
its user); this module only reads the register and the archive, renders and logs a view. It
keeps the names the cloud-film and QC pages call (``SheetRef``, ``sheets_of_exam``, ``sheet``,
``jpeg``, ``WIDTHS``, ``snapped``); the reading and rendering are the film register's and the
one sheet renderer's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from core_server import db
from core_server.auth import record_audit
from core_server.film.pictures import QUALITY, WIDTHS, jpeg, snapped
from core_server.film.register import SheetRow, sheet, sheets_of_exam

SheetRef = SheetRow  # the name the callers know


def log_view(
    engine: Engine,
    ref: SheetRow,
    *,
    width: int,
    username: str | None,
    address: str,
    via: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """One audit row per sheet shown (``film.sheet.view``): who, from where, through what."""
    with db.write(engine) as conn:
        record_audit(
            conn,
            username=username,
            action="film.sheet.view",
            target=f"film_sheet:{ref.id}",
            detail={"via": via, "width": snapped(width), "exam_id": ref.exam_id, **(detail or {})},
            address=address,
        )


__all__ = [
    "QUALITY",
    "WIDTHS",
    "SheetRef",
    "jpeg",
    "log_view",
    "sheet",
    "sheets_of_exam",
    "snapped",
]
