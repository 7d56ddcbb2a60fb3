"""modalities: the overwrite permission (a different object under a stored SOP Instance UID)

Revision ID: 0013_modalities_overwrite
Revises: 0008_modalities_charset
Create Date: 2026-12-01 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_modalities_overwrite"
down_revision = "0008_modalities_charset"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Off for every peer registered before: nobody may change an archived object until an
    # administrator allows it.
    with op.batch_alter_table("modalities") as batch:
        batch.add_column(
            sa.Column("allow_overwrite", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("modalities") as batch:
        batch.drop_column("allow_overwrite")
