"""Storage lifecycle: forwarding (docs/storage-forwarding.md). Destinations and rules
(:mod:`.config`), the durable task queue (:mod:`.queue`), the rules' matching (:mod:`.match`),
the senders (:mod:`.dicom_sender`, :mod:`.stow_sender`) and the worker (:mod:`.service`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core_server.storage import Lifecycle, Parts


def install(lifecycle: Lifecycle, parts: Parts) -> None:
    """Build this part's service on ``lifecycle.forwarding``; its start/stop go on ``parts``."""
    from core_server import tls
    from core_server.storage.forwarding.service import Forwarding

    service = Forwarding(
        parts.engine,
        parts.archive,
        parts.bus,
        ae_title=parts.settings.ae_title,
        tls_files=tls.files_of(parts.settings),
    )
    lifecycle.forwarding = service
    parts.on_startup.append(service.start)
    parts.on_shutdown.append(service.stop)
