"""film: laser imagers, film print jobs, the auto-forward cursor, cloud-film-only exams

Revision ID: 0103_film_printing
Revises: 0001
Create Date: 2026-12-07 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0103_film_printing"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "film_printers",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("ae_title", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("color", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("film_sizes", sa.Text(), nullable=False, server_default=""),
        sa.Column("media", sa.Text(), nullable=False, server_default=""),
        sa.Column("default_film_size", sa.String(16), nullable=False),
        sa.Column("default_medium", sa.String(16), nullable=False),
        sa.Column("default_destination", sa.String(16), nullable=False),
        sa.Column("default_priority", sa.String(8), nullable=False),
        sa.Column("modalities", sa.Text(), nullable=False, server_default=""),
        sa.Column("departments", sa.Text(), nullable=False, server_default=""),
        sa.Column("auto_forward", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("skip_cloud_film", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("status", sa.String(16), nullable=False, server_default=""),
        sa.Column("status_info", sa.String(64), nullable=False, server_default=""),
        sa.Column("status_at", _AT, nullable=True),
        sa.Column("events", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
    )
    op.create_table(
        "film_print_jobs",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("sheet_ids", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("composition", sa.Text(), nullable=False, server_default=""),
        sa.Column("forwarded_sheet", _ID, nullable=True, unique=True),
        sa.Column("study_instance_uid", sa.String(64), nullable=False, server_default=""),
        sa.Column("requested_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.Column("printed_at", _AT, nullable=True),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _AT, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", _AT, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_film_print_jobs_due", "film_print_jobs", ["status", "next_attempt_at"])
    op.create_table(
        "film_print_cursor",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("last_id", _ID, nullable=False, server_default="0"),
    )
    op.create_table(
        "film_cloud_only",
        sa.Column("exam_id", _ID, primary_key=True, autoincrement=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", _AT, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("film_cloud_only")
    op.drop_table("film_print_cursor")
    op.drop_index("ix_film_print_jobs_due", table_name="film_print_jobs")
    op.drop_table("film_print_jobs")
    op.drop_table("film_printers")
