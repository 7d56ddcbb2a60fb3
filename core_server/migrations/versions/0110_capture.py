"""capture: endoscopes, disinfection cycles, the scope an exam used, pathology requests

Revision ID: 0110_capture
Revises: 0001
Create Date: 2026-12-08 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0110_capture"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "capture_scopes",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("serial", sa.String(64), nullable=False, server_default=""),
        sa.Column("model", sa.String(64), nullable=False, server_default=""),
        sa.Column("kind", sa.String(32), nullable=False, server_default=""),
        sa.Column("active", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("created_at", _AT, nullable=False),
    )
    op.create_index("ix_capture_scopes_serial", "capture_scopes", ["serial"])
    op.create_table(
        "capture_disinfections",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "scope_id",
            _ID,
            sa.ForeignKey("capture_scopes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("washer", sa.String(64), nullable=False, server_default=""),
        sa.Column("cycle", sa.String(32), nullable=False, server_default=""),
        sa.Column("started_at", _AT, nullable=False),
        sa.Column("ended_at", _AT, nullable=True),
        sa.Column("operator", sa.String(64), nullable=False, server_default=""),
        sa.Column("result", sa.String(8), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("recorded_at", _AT, nullable=False),
    )
    op.create_index(
        "ix_capture_disinfections_scope", "capture_disinfections", ["scope_id", "started_at"]
    )
    op.create_index("ix_capture_disinfections_started", "capture_disinfections", ["started_at"])
    op.create_table(
        "capture_exam_scopes",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("exam_id", _ID, nullable=False),
        sa.Column("scope_id", _ID, sa.ForeignKey("capture_scopes.id"), nullable=False),
        sa.Column("disinfection_id", _ID, nullable=True),
        sa.Column("warning", sa.String(64), nullable=True),
        sa.Column("recorded_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("recorded_at", _AT, nullable=False),
    )
    op.create_index("ix_capture_exam_scopes_exam", "capture_exam_scopes", ["exam_id"])
    op.create_table(
        "capture_pathology",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("exam_id", _ID, nullable=False, unique=True),
        sa.Column("request_number", sa.String(32), nullable=False, unique=True),
        sa.Column("sites", sa.Text(), nullable=False),
        sa.Column("specimens", sa.Integer(), nullable=False),
        sa.Column("clinical_info", sa.Text(), nullable=False, server_default=""),
        sa.Column("requested_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("recorded_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("recorded_at", _AT, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("capture_pathology")
    op.drop_table("capture_exam_scopes")
    op.drop_table("capture_disinfections")
    op.drop_table("capture_scopes")
