"""Film quality grades (migration ``0106_film_grades``): every grade a QC user gave a film
sheet, with its reasons and who gave it. The newest grade of a sheet is its grade; the older
ones are its history (a sheet graded again keeps what was said before)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text

from core_server.db import BigId, UtcDateTime, metadata

film_sheet_grades = Table(
    "film_sheet_grades",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("sheet_id", BigId, ForeignKey("film_sheets.id"), nullable=False),
    Column("grade", String(12), nullable=False),  # excellent good fair poor (优 良 中 差)
    Column("reasons", Text, nullable=False, server_default="[]"),  # JSON list of reason codes
    Column("note", Text, nullable=False, server_default=""),
    Column("graded_by", String(64), nullable=False),
    Column("role", String(32), nullable=False, server_default=""),
    Column("graded_at", UtcDateTime, nullable=False),
)
Index("ix_film_sheet_grades_sheet", film_sheet_grades.c.sheet_id, film_sheet_grades.c.id)
