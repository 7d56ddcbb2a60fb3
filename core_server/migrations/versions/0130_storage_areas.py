"""storage tiers: areas, copies, objects not online, consistency checks

Revision ID: 0130_storage_areas
Revises: 0001
Create Date: 2026-12-07 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0130_storage_areas"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _key(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "archive_areas",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("name", _key(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("location", sa.String(500), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False, server_default="10"),
        sa.Column("endpoint_url", sa.String(500), nullable=False, server_default=""),
        sa.Column("region", sa.String(64), nullable=False, server_default=""),
        sa.Column("access_key", sa.String(128), nullable=False, server_default=""),
        sa.Column("secret_key", sa.String(256), nullable=False, server_default=""),
        sa.Column("prefix", sa.String(200), nullable=False, server_default=""),
        sa.Column("label", sa.String(64), nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name="uq_archive_areas_name"),
    )
    op.create_table(
        "archive_copies",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("sop_instance_uid", _key(64), nullable=False),
        sa.Column("area", _key(32), nullable=False),
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("volume", sa.String(64), nullable=False, server_default=""),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("transfer_syntax_uid", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint(
            "sop_instance_uid", "area", name="uq_archive_copies_sop_instance_uid_area"
        ),
    )
    op.create_index("ix_archive_copies_area_volume", "archive_copies", ["area", "volume"])
    op.create_table(
        "archive_not_online",
        sa.Column("sop_instance_uid", _key(64), primary_key=True),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "archive_checks",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("repair", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("checked", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("repaired", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("problems", sa.Text(), nullable=False, server_default="[]", comment="JSON"),
    )


def downgrade() -> None:
    op.drop_table("archive_checks")
    op.drop_table("archive_not_online")
    op.drop_index("ix_archive_copies_area_volume", table_name="archive_copies")
    op.drop_table("archive_copies")
    op.drop_table("archive_areas")
