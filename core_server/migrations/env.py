"""Alembic environment: every domain's tables on the one shared metadata."""

from alembic import context
from sqlalchemy import text

import core_server.archive.tables
import core_server.auth.tables
import core_server.hl7.tables
import core_server.modalities.tables
import core_server.reporting.output.tables
import core_server.ris.tables  # noqa: F401  (registers the tables)
from core_server.cluster.locks import key_of
from core_server.db import metadata

connection = context.config.attributes["connection"]
if connection.dialect.name == "postgresql":
    # Nodes starting together: one upgrades, the others wait here until it commits and then
    # read the new revision (nothing left to do). Held until the upgrade's transaction ends.
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key_of("schema-upgrade")})
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
