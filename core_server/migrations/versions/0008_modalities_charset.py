"""modalities: the ASCII-only flag (worklist names in pinyin only)

Revision ID: 0008_modalities_charset
Revises: 0001
Create Date: 2026-11-29 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_modalities_charset"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("modalities") as batch:
        batch.add_column(
            sa.Column("ascii_only", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("modalities") as batch:
        batch.drop_column("ascii_only")
