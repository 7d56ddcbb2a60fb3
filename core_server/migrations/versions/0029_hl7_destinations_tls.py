"""hl7: a destination reached by MLLP over TLS (``hl7_destinations.tls``)

Revision ID: 0029_hl7_destinations_tls
Revises: 0020_hl7_senders_and_claims
Create Date: 2027-01-20 09:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0029_hl7_destinations_tls"
down_revision = "0020_hl7_senders_and_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hl7_destinations") as batch:
        batch.add_column(sa.Column("tls", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("hl7_destinations") as batch:
        batch.drop_column("tls")
