"""auth: the audit trail, idle limit of browser sessions; archive: pinyin keys of patient names

Revision ID: 0002_audit
Revises: 0001
Create Date: 2026-11-29 06:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_audit"
down_revision = "0001"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_key = sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", _id, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), server_default="", nullable=False),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False),
        sa.Column("address", sa.String(length=64), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"])
    op.create_index(op.f("ix_audit_events_username"), "audit_events", ["username"])
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"])

    for column in ("patient_name_initials", "patient_name_pinyin"):
        op.add_column("patients", sa.Column(column, _key, server_default="", nullable=False))
        op.create_index(op.f(f"ix_patients_{column}"), "patients", [column])
    _fill_pinyin_keys()

    op.add_column("tokens", sa.Column("idle_minutes", sa.Integer(), nullable=True))
    op.add_column("tokens", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))


def _fill_pinyin_keys() -> None:
    """Keys for the patients already stored (computed at ingest from now on)."""
    from core_server.archive.objects import pinyin_columns

    conn = op.get_bind()
    patients = sa.table(
        "patients",
        sa.column("id"),
        sa.column("patient_name"),
        sa.column("patient_name_initials"),
        sa.column("patient_name_pinyin"),
    )
    rows = conn.execute(sa.select(patients.c.id, patients.c.patient_name)).all()
    for row in rows:
        conn.execute(
            patients.update()
            .where(patients.c.id == row.id)
            .values(**pinyin_columns(row.patient_name or ""))
        )


def downgrade() -> None:
    op.drop_column("tokens", "last_used_at")
    op.drop_column("tokens", "idle_minutes")
    for column in ("patient_name_initials", "patient_name_pinyin"):
        op.drop_index(op.f(f"ix_patients_{column}"), "patients")
        op.drop_column("patients", column)
    op.drop_table("audit_events")
