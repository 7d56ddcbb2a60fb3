"""Alembic environment: every domain's tables on the one shared metadata."""

from alembic import context

import core_server.archive.tables
import core_server.auth.tables
import core_server.hl7.tables
import core_server.modalities.tables
import core_server.reporting.output.tables
import core_server.ris.tables  # noqa: F401  (registers the tables)
from core_server.db import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
