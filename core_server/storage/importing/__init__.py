"""Storage lifecycle: importing (docs/storage-importing.md): media and folder import with
reconciliation to RIS patients, non-DICOM wrapping; the archive's backup and restore
(:mod:`.archive_backup`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core_server.storage import Lifecycle, Parts


def install(lifecycle: Lifecycle, parts: Parts) -> None:
    """Build this part's service on ``lifecycle.importing``; its start/stop go on ``parts``."""
    from core_server.storage.importing import tables  # noqa: F401  (registers the tables)
    from core_server.storage.importing.service import ImportService

    service = ImportService(
        parts.engine, parts.archive, parts.ris, parts.bus, parts.settings.data_dir / "imports"
    )
    lifecycle.importing = service
    parts.on_startup.append(service.start)
    parts.on_shutdown.append(service.stop)
