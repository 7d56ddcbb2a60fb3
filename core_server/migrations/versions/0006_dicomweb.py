"""dicomweb: per-instance metadata cache

Revision ID: 0006_dicomweb
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_dicomweb"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dicomweb_instance_metadata",
        sa.Column(
            "sop_instance_uid",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("stamp", sa.String(length=300), nullable=False),
        sa.Column("json", sa.LargeBinary(), nullable=False, comment="zlib-compressed DICOM JSON"),
        sa.PrimaryKeyConstraint("sop_instance_uid", name=op.f("pk_dicomweb_instance_metadata")),
    )


def downgrade() -> None:
    op.drop_table("dicomweb_instance_metadata")
