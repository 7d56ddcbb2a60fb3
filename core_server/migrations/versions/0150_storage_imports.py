"""storage importing: import sessions, their foreign patients, files and re-keyed UIDs

Revision ID: 0150_storage_imports
Revises: 0001
Create Date: 2026-12-07 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0150_storage_imports"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)
_SESSION = "storage_import_sessions.id"


def upgrade() -> None:
    op.create_table(
        "storage_import_sessions",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("label", sa.String(128), nullable=False, server_default=""),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("finished_at", _AT, nullable=True),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_storage_import_sessions_created", "storage_import_sessions", ["created_at"])
    op.create_table(
        "storage_import_patients",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("session_id", _ID, sa.ForeignKey(_SESSION, ondelete="CASCADE"), nullable=False),
        sa.Column("foreign_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("foreign_issuer", sa.String(64), nullable=False, server_default=""),
        sa.Column("foreign_name", sa.String(324), nullable=False, server_default=""),
        sa.Column("birth_date", sa.String(8), nullable=False, server_default=""),
        sa.Column("sex", sa.String(16), nullable=False, server_default=""),
        sa.Column("studies", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("decision", sa.String(8), nullable=False, server_default="pending"),
        sa.Column("patient_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("issuer", sa.String(64), nullable=False, server_default=""),
        sa.Column("exam_id", _ID, nullable=True),
        sa.Column("rekey", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("decided_by", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_storage_import_patients_session", "storage_import_patients", ["session_id"])
    op.create_table(
        "storage_import_files",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("session_id", _ID, sa.ForeignKey(_SESSION, ondelete="CASCADE"), nullable=False),
        sa.Column("patient_row", _ID, nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("sop_instance_uid", sa.String(64), nullable=False, server_default=""),
        sa.Column("study_instance_uid", sa.String(64), nullable=False, server_default=""),
        sa.Column("size", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("state", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("stored_uid", sa.String(64), nullable=False, server_default=""),
        sa.Column("exam_id", _ID, nullable=True),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_storage_import_files_session", "storage_import_files", ["session_id", "state"]
    )
    op.create_table(
        "storage_import_uids",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("session_id", _ID, sa.ForeignKey(_SESSION, ondelete="CASCADE"), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("foreign_uid", sa.String(64), nullable=False),
        sa.Column("our_uid", sa.String(64), nullable=False),
    )
    op.create_index(
        "ix_storage_import_uids_foreign",
        "storage_import_uids",
        ["session_id", "foreign_uid"],
        unique=True,
    )
    op.create_index("ix_storage_import_uids_ours", "storage_import_uids", ["our_uid"])


def downgrade() -> None:
    for table in (
        "storage_import_uids",
        "storage_import_files",
        "storage_import_patients",
        "storage_import_sessions",
    ):
        op.drop_table(table)
