"""modalities: associations we open to the peer go over DICOM TLS (``tls``)

Revision ID: 0019_modalities_tls
Revises: 0013_modalities_overwrite
Create Date: 2027-01-20 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_modalities_tls"
down_revision = "0013_modalities_overwrite"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Off for every peer registered before: they were reached in clear and still are.
    with op.batch_alter_table("modalities") as batch:
        batch.add_column(sa.Column("tls", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("modalities") as batch:
        batch.drop_column("tls")
