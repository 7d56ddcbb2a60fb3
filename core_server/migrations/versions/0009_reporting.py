"""reporting: reports, versions, history, sign-off levels, templates, word rules, critical values

Revision ID: 0009_reporting
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_reporting"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reporting_department_levels",
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("levels", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("department", name=op.f("pk_reporting_department_levels")),
    )
    op.create_table(
        "reporting_doctor_grades",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("grade", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_reporting_doctor_grades")),
    )
    op.create_table(
        "reporting_reports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("exam_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("accession_number", sa.String(length=64), nullable=False),
        sa.Column(
            "patient_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("issuer", sa.String(length=64), server_default="", nullable=False),
        sa.Column("patient_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("department", sa.String(length=32), server_default="", nullable=False),
        sa.Column("modality", sa.String(length=16), server_default="", nullable=False),
        sa.Column("body_part", sa.String(length=32), server_default="", nullable=False),
        sa.Column("procedure_code", sa.String(length=32), server_default="", nullable=False),
        sa.Column("emergency", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("findings", sa.Text(), server_default="", nullable=False),
        sa.Column("impression", sa.Text(), server_default="", nullable=False),
        sa.Column("fields", sa.Text(), server_default="{}", nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("positive", sa.Boolean(), nullable=True),
        sa.Column("critical", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("infectious", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("teaching", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("teaching_note", sa.String(length=255), server_default="", nullable=False),
        sa.Column("key_images", sa.Text(), server_default="[]", nullable=False),
        sa.Column("author", sa.String(length=64), server_default="", nullable=False),
        sa.Column("reviewed_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("signed_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_version", sa.Integer(), nullable=True),
        sa.Column("amendments", sa.Integer(), server_default="0", nullable=False),
        sa.Column("report_quality", sa.String(length=12), server_default="", nullable=False),
        sa.Column("report_quality_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("image_quality", sa.String(length=12), server_default="", nullable=False),
        sa.Column("image_quality_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("pathology_result", sa.Text(), server_default="", nullable=False),
        sa.Column("clinical_outcome", sa.Text(), server_default="", nullable=False),
        sa.Column("pathology_agreement", sa.String(length=12), server_default="", nullable=False),
        sa.Column("agreement_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("lock_holder", sa.String(length=64), server_default="", nullable=False),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("levels", sa.Integer(), server_default="2", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("draft_saved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_reports")),
        sa.UniqueConstraint("exam_id", name=op.f("uq_reporting_reports_exam_id")),
    )
    op.create_index(
        op.f("ix_reporting_reports_accession_number"),
        "reporting_reports",
        ["accession_number"],
        unique=False,
    )
    op.create_index(
        op.f("ix_reporting_reports_author"), "reporting_reports", ["author"], unique=False
    )
    op.create_index(
        "ix_reporting_reports_patient", "reporting_reports", ["patient_id", "issuer"], unique=False
    )
    op.create_index(
        op.f("ix_reporting_reports_status"), "reporting_reports", ["status"], unique=False
    )
    op.create_table(
        "reporting_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reporting_settings")),
    )
    op.create_table(
        "reporting_templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.String(length=12), nullable=False),
        sa.Column("owner", sa.String(length=64), server_default="", nullable=False),
        sa.Column("department", sa.String(length=32), server_default="", nullable=False),
        sa.Column("modality", sa.String(length=16), server_default="", nullable=False),
        sa.Column("body_part", sa.String(length=32), server_default="", nullable=False),
        sa.Column("keywords", sa.String(length=255), server_default="", nullable=False),
        sa.Column("findings", sa.Text(), server_default="", nullable=False),
        sa.Column("impression", sa.Text(), server_default="", nullable=False),
        sa.Column("fields", sa.Text(), server_default="[]", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_templates")),
    )
    op.create_index(
        "ix_reporting_templates_lookup",
        "reporting_templates",
        ["modality", "body_part"],
        unique=False,
    )
    op.create_table(
        "reporting_word_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("word", sa.String(length=64), nullable=False),
        sa.Column("other", sa.String(length=64), server_default="", nullable=False),
        sa.Column("message", sa.String(length=255), server_default="", nullable=False),
        sa.Column("modality", sa.String(length=16), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_word_rules")),
    )
    op.create_table(
        "reporting_critical_alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("raised_by", sa.String(length=64), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), server_default="", nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledgement", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reporting_reports.id"],
            name=op.f("fk_reporting_critical_alerts_report_id_reporting_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_critical_alerts")),
    )
    op.create_index(
        op.f("ix_reporting_critical_alerts_next_escalation_at"),
        "reporting_critical_alerts",
        ["next_escalation_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_reporting_critical_alerts_report_id"),
        "reporting_critical_alerts",
        ["report_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_reporting_critical_alerts_status"),
        "reporting_critical_alerts",
        ["status"],
        unique=False,
    )
    op.create_table(
        "reporting_default_templates",
        sa.Column("procedure_code", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["reporting_templates.id"],
            name=op.f("fk_reporting_default_templates_template_id_reporting_templates"),
        ),
        sa.PrimaryKeyConstraint("procedure_code", name=op.f("pk_reporting_default_templates")),
    )
    op.create_table(
        "reporting_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_status", sa.String(length=12), server_default="", nullable=False),
        sa.Column("new_status", sa.String(length=12), server_default="", nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reporting_reports.id"],
            name=op.f("fk_reporting_history_report_id_reporting_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_history")),
    )
    op.create_index(
        op.f("ix_reporting_history_report_id"), "reporting_history", ["report_id"], unique=False
    )
    op.create_table(
        "reporting_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("impression", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), server_default="{}", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reporting_reports.id"],
            name=op.f("fk_reporting_versions_report_id_reporting_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_versions")),
        sa.UniqueConstraint(
            "report_id", "number", name=op.f("uq_reporting_versions_report_id_number")
        ),
    )
    op.create_table(
        "reporting_alert_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), server_default="", nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("ref", sa.String(length=64), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["reporting_critical_alerts.id"],
            name=op.f("fk_reporting_alert_events_alert_id_reporting_critical_alerts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_alert_events")),
    )
    op.create_index(
        op.f("ix_reporting_alert_events_alert_id"),
        "reporting_alert_events",
        ["alert_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reporting_alert_events_alert_id"), table_name="reporting_alert_events")
    op.drop_table("reporting_alert_events")
    op.drop_table("reporting_versions")
    op.drop_index(op.f("ix_reporting_history_report_id"), table_name="reporting_history")
    op.drop_table("reporting_history")
    op.drop_table("reporting_default_templates")
    op.drop_index(
        op.f("ix_reporting_critical_alerts_status"), table_name="reporting_critical_alerts"
    )
    op.drop_index(
        op.f("ix_reporting_critical_alerts_report_id"), table_name="reporting_critical_alerts"
    )
    op.drop_index(
        op.f("ix_reporting_critical_alerts_next_escalation_at"),
        table_name="reporting_critical_alerts",
    )
    op.drop_table("reporting_critical_alerts")
    op.drop_table("reporting_word_rules")
    op.drop_index("ix_reporting_templates_lookup", table_name="reporting_templates")
    op.drop_table("reporting_templates")
    op.drop_table("reporting_settings")
    op.drop_index(op.f("ix_reporting_reports_status"), table_name="reporting_reports")
    op.drop_index("ix_reporting_reports_patient", table_name="reporting_reports")
    op.drop_index(op.f("ix_reporting_reports_author"), table_name="reporting_reports")
    op.drop_index(op.f("ix_reporting_reports_accession_number"), table_name="reporting_reports")
    op.drop_table("reporting_reports")
    op.drop_table("reporting_doctor_grades")
    op.drop_table("reporting_department_levels")
