"""The archive's index: patient -> study -> series -> instance.

Each DICOM attribute that C-FIND (and later QIDO-RS) matches on has its own indexed column.
Person names are kept whole (``*_name``) and as one upper-cased search key per component
group (alphabetic, ideographic, phonetic) so that matching is case-insensitive and can use a
B-tree range for ``ZHANG*``-style prefixes. Counts and ModalitiesInStudy are derived at query
time, never stored.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core_server.db import BigId, Key, metadata

patients = Table(
    "patients",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("patient_id", Key(64), nullable=False),
    Column("issuer_of_patient_id", Key(64), nullable=False, server_default=""),
    Column("patient_name", String(324), nullable=False, server_default=""),
    Column("patient_name_alpha", Key(324), nullable=False, server_default=""),
    Column("patient_name_ideo", Key(324), nullable=False, server_default=""),
    Column("patient_name_phon", Key(324), nullable=False, server_default=""),
    # Pinyin search keys (initials ZS, spelled ZHANGSAN) for names sent in Chinese only; see
    # core_server.pinyin.
    Column("patient_name_initials", Key(64), nullable=False, server_default=""),
    Column("patient_name_pinyin", Key(64), nullable=False, server_default=""),
    Column("birth_date", Key(8), nullable=False, server_default=""),
    Column("sex", Key(16), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("patient_id", "issuer_of_patient_id"),
    Index(None, "patient_name_alpha"),
    Index(None, "patient_name_ideo"),
    Index(None, "patient_name_phon"),
    Index(None, "patient_name_initials"),
    Index(None, "patient_name_pinyin"),
    Index(None, "birth_date"),
)

studies = Table(
    "studies",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("patient_fk", BigId, ForeignKey("patients.id"), nullable=False),
    Column("study_instance_uid", Key(64), nullable=False, unique=True),
    Column("study_date", Key(8), nullable=False, server_default=""),
    Column("study_time", Key(16), nullable=False, server_default=""),
    Column("accession_number", Key(64), nullable=False, server_default=""),
    Column("study_id", Key(16), nullable=False, server_default=""),
    Column("study_description", Key(64), nullable=False, server_default=""),
    Column("referring_physician_name", String(324), nullable=False, server_default=""),
    Column("referring_physician_key", Key(324), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "patient_fk"),
    Index(None, "study_date", "study_time"),
    Index(None, "accession_number"),
    Index(None, "study_id"),
    Index(None, "referring_physician_key"),
    Index(None, "created_at"),
)

series = Table(
    "series",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("study_fk", BigId, ForeignKey("studies.id"), nullable=False),
    Column("series_instance_uid", Key(64), nullable=False, unique=True),
    Column("modality", Key(16), nullable=False, server_default=""),
    Column("series_number", Integer, nullable=True),
    Column("series_description", Key(64), nullable=False, server_default=""),
    Column("body_part_examined", Key(16), nullable=False, server_default=""),
    Column("series_date", Key(8), nullable=False, server_default=""),
    Column("series_time", Key(16), nullable=False, server_default=""),
    Column("station_name", Key(16), nullable=False, server_default=""),
    Column("source_ae_title", String(16), nullable=False, server_default=""),
    Index(None, "study_fk", "modality"),
    Index(None, "modality"),
)

instances = Table(
    "instances",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("series_fk", BigId, ForeignKey("series.id"), nullable=False),
    Column("sop_instance_uid", Key(64), nullable=False, unique=True),
    Column("sop_class_uid", Key(64), nullable=False),
    Column("instance_number", Integer, nullable=True),
    Column("transfer_syntax_uid", String(64), nullable=False),
    Column("number_of_frames", Integer, nullable=True),
    Column("rows", Integer, nullable=True),
    Column("columns", Integer, nullable=True),
    Column("path", String(255), nullable=False, comment="relative to the storage area"),
    Column("size", BigInteger, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source_ae_title", String(16), nullable=False, server_default=""),
    Index(None, "series_fk", "instance_number"),
    Index(None, "sop_class_uid"),
)

# A different object under a SOP Instance UID already stored replaces it; the older file is
# kept and listed here, so nothing acknowledged is ever lost.
replaced_instances = Table(
    "replaced_instances",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("sop_instance_uid", Key(64), nullable=False, index=True),
    Column("path", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("replaced_at", DateTime(timezone=True), nullable=False),
    # Set when a correction (not a re-sent object) made the newer version; see corrections.
    Column("correction_id", BigId, ForeignKey("archive_corrections.id"), nullable=True, index=True),
)

# Every correction of stored objects (IHE PIR / PGP): who, when, why, what was selected and
# changed. ``pending_paths`` lists the rewritten files of a correction not yet switched in the
# index (status "pending"), so that a crash in between leaves no file unaccounted for.
archive_corrections = Table(
    "archive_corrections",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("status", Key(16), nullable=False, index=True),  # pending, done, abandoned
    Column("username", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("selector", Text, nullable=False, comment="JSON"),
    Column("changes", Text, nullable=False, comment="JSON"),
    Column("instances", Integer, nullable=False, server_default="0"),
    Column("old_study_uids", Text, nullable=False, server_default="[]", comment="JSON"),
    Column("new_study_uids", Text, nullable=False, server_default="[]", comment="JSON"),
    Column("old_patients", Text, nullable=False, server_default="[]", comment="JSON"),
    Column("new_patients", Text, nullable=False, server_default="[]", comment="JSON"),
    Column("pending_paths", Text, nullable=False, server_default="[]", comment="JSON"),
)

# What a correction changed, for objects that arrive after it (a late image, a modality's
# re-send of the original; see archive.late_arrivals): ``kind`` "study" and "patient" for the
# study UIDs and patients (PatientID + "\\" + issuer) it touched, "moved" and "merged" for
# those that no longer exist because of it.
archive_corrected_keys = Table(
    "archive_corrected_keys",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", Key(8), nullable=False),
    Column("subject", Key(200), nullable=False),
    Column("correction_id", BigId, ForeignKey("archive_corrections.id"), nullable=False),
    Index(None, "subject", "kind"),
)
