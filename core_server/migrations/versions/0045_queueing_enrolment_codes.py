"""queueing: enrolment codes (a device asks for a short code, an administrator confirms it)

Revision ID: 0045_queueing_enrolment_codes
Revises: 0040_queueing_core_timezone
Create Date: 2026-12-07 16:30:00
"""

import sqlalchemy as sa
from alembic import op

from core_server.db import UtcDateTime

revision = "0045_queueing_enrolment_codes"
down_revision = "0040_queueing_core_timezone"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queueing_enrolment_codes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(8), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(48), nullable=False, server_default=""),
        sa.Column("hostname", sa.String(64), nullable=False, server_default=""),
        sa.Column("client", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
        sa.Column("device_name", sa.String(48)),
        sa.Column("confirmed_by", sa.String(64)),
        sa.Column("confirmed_at", UtcDateTime),
        sa.Column("delivered_at", UtcDateTime),
    )


def downgrade() -> None:
    op.drop_table("queueing_enrolment_codes")
