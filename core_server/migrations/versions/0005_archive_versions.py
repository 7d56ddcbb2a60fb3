"""archive: corrections of stored objects, the versions they leave, what they changed

Revision ID: 0005_archive_versions
Revises: 0001
Create Date: 2026-11-29 07:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_archive_versions"
down_revision = "0001"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


_status = _key(16)


def upgrade() -> None:
    op.create_table(
        "archive_corrections",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", _status, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("selector", sa.Text(), nullable=False, comment="JSON"),
        sa.Column("changes", sa.Text(), nullable=False, comment="JSON"),
        sa.Column("instances", sa.Integer(), server_default="0", nullable=False),
        sa.Column("old_study_uids", sa.Text(), server_default="[]", nullable=False, comment="JSON"),
        sa.Column("new_study_uids", sa.Text(), server_default="[]", nullable=False, comment="JSON"),
        sa.Column("old_patients", sa.Text(), server_default="[]", nullable=False, comment="JSON"),
        sa.Column("new_patients", sa.Text(), server_default="[]", nullable=False, comment="JSON"),
        sa.Column("pending_paths", sa.Text(), server_default="[]", nullable=False, comment="JSON"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_corrections")),
    )
    op.create_index(
        op.f("ix_archive_corrections_created_at"), "archive_corrections", ["created_at"]
    )
    op.create_index(op.f("ix_archive_corrections_status"), "archive_corrections", ["status"])
    op.create_table(
        "archive_corrected_keys",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("kind", _key(8), nullable=False),
        sa.Column("subject", _key(200), nullable=False),
        sa.Column("correction_id", _id, nullable=False),
        sa.ForeignKeyConstraint(
            ["correction_id"],
            ["archive_corrections.id"],
            name=op.f("fk_archive_corrected_keys_correction_id_archive_corrections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_corrected_keys")),
    )
    op.create_index(
        op.f("ix_archive_corrected_keys_subject_kind"),
        "archive_corrected_keys",
        ["subject", "kind"],
    )
    with op.batch_alter_table("replaced_instances") as batch:
        batch.add_column(sa.Column("correction_id", _id, nullable=True))
        batch.create_index(batch.f("ix_replaced_instances_correction_id"), ["correction_id"])
        batch.create_foreign_key(
            batch.f("fk_replaced_instances_correction_id_archive_corrections"),
            "archive_corrections",
            ["correction_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("replaced_instances") as batch:
        batch.drop_constraint(
            "fk_replaced_instances_correction_id_archive_corrections", type_="foreignkey"
        )
        batch.drop_index("ix_replaced_instances_correction_id")
        batch.drop_column("correction_id")
    op.drop_table("archive_corrected_keys")
    op.drop_table("archive_corrections")
