"""auth: directory users, password history and age, TOTP, recovery codes, session details

Revision ID: 0060_auth_signin
Revises: 0002_audit
Create Date: 2027-01-10 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0060_auth_signin"
down_revision = "0002_audit"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="local"))
        batch.add_column(sa.Column("password_changed_at", _AT, nullable=True))
        batch.add_column(sa.Column("totp_secret", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("totp_enabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("address", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("user_agent", sa.String(255), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    for name, column in (
        ("password_history", sa.Column("password_hash", sa.String(255), nullable=False)),
        ("recovery_codes", sa.Column("code_sha256", sa.String(64), nullable=False)),
    ):
        last = (
            sa.Column("changed_at", _AT, nullable=False)
            if name == "password_history"
            else sa.Column("used_at", _AT, nullable=True)
        )
        op.create_table(
            name,
            sa.Column("id", _ID, primary_key=True),
            sa.Column(
                "user_fk",
                sa.Integer(),
                sa.ForeignKey("users.id", ondelete="CASCADE"),
                nullable=False,
            ),
            column,
            last,
        )
        op.create_index(f"ix_{name}_user_fk", name, ["user_fk"])


def downgrade() -> None:
    op.drop_table("recovery_codes")
    op.drop_table("password_history")
    with op.batch_alter_table("tokens") as batch:
        for column in ("pending", "user_agent", "address"):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        for column in ("totp_last_step", "totp_enabled", "totp_secret", "password_changed_at"):
            batch.drop_column(column)
        batch.drop_column("source")
