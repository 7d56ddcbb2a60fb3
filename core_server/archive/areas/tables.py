"""The tables of storage areas and copies (docs/storage-tiers.md); migration 0130.

``archive_copies`` is keyed by SOP Instance UID with no foreign key to ``instances``: the
recycle bin moves index rows without touching copies. ``archive_not_online`` lists the objects
whose online file was removed (``instances.path`` keeps naming where it comes back to).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core_server.db import BigId, Key, UtcDateTime, metadata

# The admin-edited areas besides the built-in "online" one.
archive_areas = Table(
    "archive_areas",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", Key(32), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # filesystem, s3, offline
    # A folder (filesystem, offline: where sets are written and mounted) or an S3 bucket.
    Column("location", String(500), nullable=False),
    Column("rank", Integer, nullable=False, server_default="10"),  # lower is faster
    Column("endpoint_url", String(500), nullable=False, server_default=""),
    Column("region", String(64), nullable=False, server_default=""),
    Column("access_key", String(128), nullable=False, server_default=""),
    Column("secret_key", String(256), nullable=False, server_default=""),  # never answered
    Column("prefix", String(200), nullable=False, server_default=""),
    Column("label", String(64), nullable=False, server_default=""),  # offline: set being filled
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

archive_copies = Table(
    "archive_copies",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("sop_instance_uid", Key(64), nullable=False),
    Column("area", Key(32), nullable=False),
    Column("key", String(500), nullable=False),
    Column("volume", String(64), nullable=False, server_default=""),  # offline set's label
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("transfer_syntax_uid", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("verified_at", UtcDateTime, nullable=True),
    UniqueConstraint("sop_instance_uid", "area"),
    Index(None, "area", "volume"),
)

archive_not_online = Table(
    "archive_not_online",
    metadata,
    Column("sop_instance_uid", Key(64), primary_key=True),
    Column("dropped_at", UtcDateTime, nullable=False),
)

# Consistency check reports (the last one is shown at GET /api/storage/check).
archive_checks = Table(
    "archive_checks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("mode", String(16), nullable=False),  # sample, full
    Column("repair", Boolean, nullable=False, server_default="0"),
    Column("checked", Integer, nullable=False, server_default="0"),
    Column("repaired", Integer, nullable=False, server_default="0"),
    Column("problems", Text, nullable=False, server_default="[]", comment="JSON"),
)
