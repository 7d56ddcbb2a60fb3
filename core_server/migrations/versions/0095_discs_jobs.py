"""discs: disc jobs (刻录任务) and their steps

Revision ID: 0095_discs_jobs
Revises: 0001
Create Date: 2026-12-28 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0095_discs_jobs"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "disc_jobs",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("state", sa.String(12), nullable=False, server_default="queued"),
        sa.Column("exam_ids", sa.Text(), nullable=False),
        sa.Column("accession_numbers", sa.Text(), nullable=False, server_default=""),
        sa.Column("patient_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("copies", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("device", sa.String(48), nullable=True),
        sa.Column("requested_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("holder", sa.String(48), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("interruptions", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("discs_done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("discs_total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("fee_per_disc_fen", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("fee_fen", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_disc_jobs_state_device", "disc_jobs", ["state", "device"])
    op.create_table(
        "disc_job_steps",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "job_id",
            sa.BigInteger(),
            sa.ForeignKey("disc_jobs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=False, server_default=""),
        sa.Column("reason", sa.String(48), nullable=False, server_default=""),
        sa.Column("by", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_disc_job_steps_job", "disc_job_steps", ["job_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_disc_job_steps_job", table_name="disc_job_steps")
    op.drop_table("disc_job_steps")
    op.drop_index("ix_disc_jobs_state_device", table_name="disc_jobs")
    op.drop_table("disc_jobs")
