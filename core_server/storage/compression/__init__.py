"""Storage lifecycle: compression (docs/storage-compression.md). Codecs
(:mod:`.codecs`), the admin-edited rules (:mod:`.rules`) and the worker that applies them
(:mod:`.service`); transcoding on retrieve lives with the adapters (``dicom.sending``,
``dicomweb.negotiation``), using :mod:`.codecs`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core_server.storage import Lifecycle, Parts


def install(lifecycle: Lifecycle, parts: Parts) -> None:
    """Build this part's service on ``lifecycle.compression``; its start/stop go on ``parts``."""
    from core_server.storage.compression.service import Compression

    service = Compression(parts.engine, parts.archive.storage)
    parts.bus.subscribe("archive.instance_stored", service.on_stored)
    lifecycle.compression = service
    parts.on_startup.append(service.start)
    parts.on_shutdown.append(service.stop)
