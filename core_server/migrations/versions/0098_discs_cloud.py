"""discs: the release right on an exam and the cloud film's links (issue 12)

Revision ID: 0098_discs_cloud
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0098_discs_cloud"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "disc_release_holds",
        sa.Column("exam_id", _ID, autoincrement=False, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("exam_id", name=op.f("pk_disc_release_holds")),
    )
    op.create_table(
        "disc_cloud_keys",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disc_cloud_keys")),
    )
    op.create_table(
        "disc_cloud_links",
        sa.Column("id", _ID, nullable=False),
        sa.Column("job_id", _ID, nullable=True),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("exam_ids", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("revoked_at", _AT, nullable=True),
        sa.Column("revoked_by", sa.String(length=64), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disc_cloud_links")),
    )
    op.create_index("ix_disc_cloud_links_created", "disc_cloud_links", ["created_at"])
    op.create_table(
        "disc_cloud_checks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("link_id", _ID, nullable=False),
        sa.Column("address", sa.String(length=64), server_default="", nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["disc_cloud_links.id"],
            name=op.f("fk_disc_cloud_checks_link_id_disc_cloud_links"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disc_cloud_checks")),
    )
    op.create_index("ix_disc_cloud_checks_link_at", "disc_cloud_checks", ["link_id", "at"])
    op.create_table(
        "disc_cloud_passes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("link_id", _ID, nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["disc_cloud_links.id"],
            name=op.f("fk_disc_cloud_passes_link_id_disc_cloud_links"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disc_cloud_passes")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_disc_cloud_passes_key_hash")),
    )


def downgrade() -> None:
    op.drop_table("disc_cloud_passes")
    op.drop_table("disc_cloud_checks")
    op.drop_table("disc_cloud_links")
    op.drop_table("disc_cloud_keys")
    op.drop_table("disc_release_holds")
