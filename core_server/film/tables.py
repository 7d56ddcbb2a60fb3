"""The film sheet register (migration ``0100_film_sheets``): one row per composed film sheet
in the archive, whoever made it (a modality through the Print SCP, or the web's film
composer). Exams are referred to by their RIS id (no foreign key: the RIS is another domain).
Print jobs, printers and film grades keep their own tables and refer to a sheet by its id."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table

from core_server.db import BigId, UtcDateTime, metadata

film_sheets = Table(
    "film_sheets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("exam_id", BigId, nullable=True),  # None until the sheet's study meets an exam
    Column("accession_number", String(64), nullable=False, server_default=""),
    Column("patient_id", String(64), nullable=False, server_default=""),
    Column("modality", String(16), nullable=False, server_default=""),  # of the printed images
    Column("study_instance_uid", String(64), nullable=False),
    Column("series_instance_uid", String(64), nullable=False),
    Column("sop_instance_uid", String(64), nullable=False, unique=True),  # the archived sheet
    Column("source", String(12), nullable=False),  # "modality" (Print SCP) or "viewer"
    Column("calling_ae", String(16), nullable=False, server_default=""),
    Column("requested_by", String(64), nullable=False, server_default=""),  # a web user
    Column("film_size", String(16), nullable=False),
    Column("display_format", String(64), nullable=False),
    Column("orientation", String(10), nullable=False, server_default="PORTRAIT"),
    Column("color", Boolean, nullable=False, server_default="0"),
    Column("copies", Integer, nullable=False, server_default="1"),  # as the sender asked
    Column("images", Integer, nullable=False, server_default="0"),  # filled image boxes
    Column("created_at", UtcDateTime, nullable=False),
    # Set when a laser imager printed it (the print job succeeded); None: cloud film only.
    Column("printed_at", UtcDateTime, nullable=True),
    Column("printer", String(64), nullable=True),
    Column("printed_copies", Integer, nullable=False, server_default="0"),
)
Index("ix_film_sheets_exam", film_sheets.c.exam_id)
Index("ix_film_sheets_created", film_sheets.c.created_at)
Index("ix_film_sheets_study", film_sheets.c.study_instance_uid)
