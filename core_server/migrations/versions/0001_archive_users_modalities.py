"""archive, users, modalities

Revision ID: 0001
Revises:
Create Date: 2026-11-28 04:18:18.860068
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "modalities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ae_title", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=255), server_default="", nullable=False),
        sa.Column("allow_store", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("allow_query", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("allow_retrieve", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_modalities")),
        sa.UniqueConstraint("ae_title", name=op.f("uq_modalities_ae_title")),
    )
    op.create_table(
        "patients",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "patient_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "issuer_of_patient_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column("patient_name", sa.String(length=324), server_default="", nullable=False),
        sa.Column(
            "patient_name_alpha",
            sa.String(length=324).with_variant(sa.String(length=324, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "patient_name_ideo",
            sa.String(length=324).with_variant(sa.String(length=324, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "patient_name_phon",
            sa.String(length=324).with_variant(sa.String(length=324, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "birth_date",
            sa.String(length=8).with_variant(sa.String(length=8, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "sex",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint(
            "patient_id",
            "issuer_of_patient_id",
            name=op.f("uq_patients_patient_id_issuer_of_patient_id"),
        ),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patients_birth_date"), ["birth_date"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_patients_patient_name_alpha"), ["patient_name_alpha"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_patients_patient_name_ideo"), ["patient_name_ideo"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_patients_patient_name_phon"), ["patient_name_phon"], unique=False
        )

    op.create_table(
        "replaced_instances",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "sop_instance_uid",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replaced_instances")),
    )
    with op.batch_alter_table("replaced_instances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_replaced_instances_sop_instance_uid"), ["sop_instance_uid"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "studies",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "patient_fk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "study_instance_uid",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "study_date",
            sa.String(length=8).with_variant(sa.String(length=8, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "study_time",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "accession_number",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "study_id",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "study_description",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "referring_physician_name", sa.String(length=324), server_default="", nullable=False
        ),
        sa.Column(
            "referring_physician_key",
            sa.String(length=324).with_variant(sa.String(length=324, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_fk"], ["patients.id"], name=op.f("fk_studies_patient_fk_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint("study_instance_uid", name=op.f("uq_studies_study_instance_uid")),
    )
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_studies_accession_number"), ["accession_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_studies_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_studies_patient_fk"), ["patient_fk"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_studies_referring_physician_key"),
            ["referring_physician_key"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_studies_study_date_study_time"),
            ["study_date", "study_time"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_studies_study_id"), ["study_id"], unique=False)

    op.create_table(
        "tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_fk", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_fk"], ["users.id"], name=op.f("fk_tokens_user_fk_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_tokens")),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tokens_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "series",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("study_fk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "series_instance_uid",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "modality",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column("series_number", sa.Integer(), nullable=True),
        sa.Column(
            "series_description",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "body_part_examined",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "series_date",
            sa.String(length=8).with_variant(sa.String(length=8, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "series_time",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column(
            "station_name",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            server_default="",
            nullable=False,
        ),
        sa.Column("source_ae_title", sa.String(length=16), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["study_fk"], ["studies.id"], name=op.f("fk_series_study_fk_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
        sa.UniqueConstraint("series_instance_uid", name=op.f("uq_series_series_instance_uid")),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_modality"), ["modality"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_series_study_fk_modality"), ["study_fk", "modality"], unique=False
        )

    op.create_table(
        "instances",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "series_fk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "sop_instance_uid",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sop_class_uid",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("instance_number", sa.Integer(), nullable=True),
        sa.Column("transfer_syntax_uid", sa.String(length=64), nullable=False),
        sa.Column("number_of_frames", sa.Integer(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("columns", sa.Integer(), nullable=True),
        sa.Column(
            "path", sa.String(length=255), nullable=False, comment="relative to the storage area"
        ),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_ae_title", sa.String(length=16), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["series_fk"], ["series.id"], name=op.f("fk_instances_series_fk_series")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
        sa.UniqueConstraint("sop_instance_uid", name=op.f("uq_instances_sop_instance_uid")),
    )
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instances_series_fk_instance_number"),
            ["series_fk", "instance_number"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_instances_sop_class_uid"), ["sop_class_uid"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instances_sop_class_uid"))
        batch_op.drop_index(batch_op.f("ix_instances_series_fk_instance_number"))

    op.drop_table("instances")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_study_fk_modality"))
        batch_op.drop_index(batch_op.f("ix_series_modality"))

    op.drop_table("series")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tokens_expires_at"))

    op.drop_table("tokens")
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_studies_study_id"))
        batch_op.drop_index(batch_op.f("ix_studies_study_date_study_time"))
        batch_op.drop_index(batch_op.f("ix_studies_referring_physician_key"))
        batch_op.drop_index(batch_op.f("ix_studies_patient_fk"))
        batch_op.drop_index(batch_op.f("ix_studies_created_at"))
        batch_op.drop_index(batch_op.f("ix_studies_accession_number"))

    op.drop_table("studies")
    op.drop_table("users")
    with op.batch_alter_table("replaced_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replaced_instances_sop_instance_uid"))

    op.drop_table("replaced_instances")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patients_patient_name_phon"))
        batch_op.drop_index(batch_op.f("ix_patients_patient_name_ideo"))
        batch_op.drop_index(batch_op.f("ix_patients_patient_name_alpha"))
        batch_op.drop_index(batch_op.f("ix_patients_birth_date"))

    op.drop_table("patients")
    op.drop_table("modalities")
