"""quality: the reasons list (seeded), image grades with reasons, exams sent back for a retake

Revision ID: 0075_quality
Revises: 0001
Create Date: 2026-12-20 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0075_quality"
down_revision = "0001"
branch_labels = None
# Exams and reports are referred to by id (no foreign key); grades mirror onto the report.
depends_on = ("0050_ris_names_and_times", "0009_reporting")

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The reasons a department starts with (an administrator edits the list).
DEFAULT_REASONS = [
    ("positioning", "体位不正", "Patient mispositioned"),
    ("motion", "运动伪影", "Motion artefact"),
    ("exposure", "曝光不当", "Wrong exposure"),
    ("coverage", "扫描范围不全", "Incomplete coverage"),
    ("metal", "金属伪影", "Metal artefact"),
    ("foreign_body", "异物伪影", "Foreign-body artefact"),
    ("breathing", "呼吸配合不佳", "Breath-hold not kept"),
    ("noise", "图像噪声大", "Noisy images"),
    ("contrast", "对比剂时相不当", "Wrong contrast phase"),
    ("marker", "标记缺失或错误", "Side marker missing or wrong"),
]


def upgrade() -> None:
    reasons = op.create_table(
        "quality_reasons",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name_zh", sa.String(64), nullable=False),
        sa.Column("name_en", sa.String(64), nullable=False, server_default=""),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
    )
    op.bulk_insert(
        reasons,
        [
            {"code": c, "name_zh": zh, "name_en": en, "active": True, "position": n * 10}
            for n, (c, zh, en) in enumerate(DEFAULT_REASONS, start=1)
        ],
    )
    op.create_table(
        "quality_image_grades",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("exam_id", BIG, nullable=False),
        sa.Column("grade", sa.String(12), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("graded_by", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False, server_default=""),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_quality_image_grades_exam", "quality_image_grades", ["exam_id"])
    op.create_table(
        "quality_retakes",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("exam_id", BIG, nullable=False),
        sa.Column("retake_exam_id", BIG, nullable=False),
        sa.Column("retake_accession", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("sent_by", sa.String(64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_status", sa.String(16), nullable=False, server_default=""),
    )
    op.create_index("ix_quality_retakes_exam", "quality_retakes", ["exam_id"])
    op.create_index("ix_quality_retakes_retake", "quality_retakes", ["retake_exam_id"])


def downgrade() -> None:
    op.drop_table("quality_retakes")
    op.drop_table("quality_image_grades")
    op.drop_table("quality_reasons")
