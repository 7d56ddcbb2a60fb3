"""film: the film sheet register (胶片)

Revision ID: 0100_film_sheets
Revises: 0001
Create Date: 2026-12-07 15:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0100_film_sheets"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "film_sheets",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("exam_id", _ID, nullable=True),
        sa.Column("accession_number", sa.String(64), nullable=False, server_default=""),
        sa.Column("patient_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("modality", sa.String(16), nullable=False, server_default=""),
        sa.Column("study_instance_uid", sa.String(64), nullable=False),
        sa.Column("series_instance_uid", sa.String(64), nullable=False),
        sa.Column("sop_instance_uid", sa.String(64), nullable=False, unique=True),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("calling_ae", sa.String(16), nullable=False, server_default=""),
        sa.Column("requested_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("film_size", sa.String(16), nullable=False),
        sa.Column("display_format", sa.String(64), nullable=False),
        sa.Column("orientation", sa.String(10), nullable=False, server_default="PORTRAIT"),
        sa.Column("color", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("copies", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("images", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("printer", sa.String(64), nullable=True),
        sa.Column("printed_copies", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_film_sheets_exam", "film_sheets", ["exam_id"])
    op.create_index("ix_film_sheets_created", "film_sheets", ["created_at"])
    op.create_index("ix_film_sheets_study", "film_sheets", ["study_instance_uid"])


def downgrade() -> None:
    op.drop_table("film_sheets")
