"""Storage lifecycle: the recycle bin and IOCM rejection (docs/storage-recycle.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core_server.storage import Lifecycle, Parts


def install(lifecycle: Lifecycle, parts: Parts) -> None:
    """Build the bin on ``lifecycle.recycle``: it hears stored objects (rejection notes) from
    now on; its erase ticker runs between the app's start and stop."""
    from core_server.storage.recycle.service import RecycleBin

    service = RecycleBin(parts.engine, parts.archive, parts.bus)
    lifecycle.recycle = service
    parts.on_startup.append(service.start)
    parts.on_shutdown.append(service.stop)
