"""storage recycle: the recycle bin (entries and the index rows they hold) and its settings

Revision ID: 0145_storage_recycle
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0145_storage_recycle"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _key(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "recycle_bin",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("level", _key(16), nullable=False),
        sa.Column("study_instance_uid", _key(64), nullable=False),
        sa.Column("series_instance_uid", _key(64), nullable=False, server_default=""),
        sa.Column("sop_instance_uid", _key(64), nullable=False, server_default=""),
        sa.Column("patient_id", _key(64), nullable=False, server_default=""),
        sa.Column("patient_name", sa.String(324), nullable=False, server_default=""),
        sa.Column("study_date", _key(8), nullable=False, server_default=""),
        sa.Column("accession_number", _key(64), nullable=False, server_default=""),
        sa.Column("study_description", _key(64), nullable=False, server_default=""),
        sa.Column("modalities", _key(64), nullable=False, server_default=""),
        sa.Column("instances", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("rejection_code", _key(16), nullable=False, server_default=""),
        sa.Column("rejection_note_uid", _key(64), nullable=False, server_default=""),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_recycle_bin_study_instance_uid", "recycle_bin", ["study_instance_uid"])
    op.create_index("ix_recycle_bin_deleted_at", "recycle_bin", ["deleted_at"])
    op.create_table(
        "recycle_bin_rows",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("entry_fk", _ID, sa.ForeignKey("recycle_bin.id"), nullable=False),
        sa.Column("kind", _key(16), nullable=False),
        sa.Column("row_id", _ID, nullable=False),
        sa.Column("uid", _key(64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False, comment="JSON"),
    )
    op.create_index("ix_recycle_bin_rows_entry_fk", "recycle_bin_rows", ["entry_fk"])
    op.create_index("ix_recycle_bin_rows_uid_kind", "recycle_bin_rows", ["uid", "kind"])
    op.create_table(
        "recycle_settings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("keep_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("recycle_settings")
    op.drop_table("recycle_bin_rows")
    op.drop_table("recycle_bin")
