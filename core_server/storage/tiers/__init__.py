"""Storage lifecycle: tiers (docs/storage-tiers.md). Areas, copies and recall live in the
archive (:mod:`core_server.archive.areas`, :mod:`core_server.archive.copies`,
:mod:`core_server.archive.recall`); this part adds the admin's service over them
(:mod:`.areas_service`), the consistency check's ticker (:mod:`.integrity`) and the
``core-server storage`` actions (:mod:`.commands`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core_server.storage import Lifecycle, Parts


def install(lifecycle: Lifecycle, parts: Parts) -> None:
    """Build this part's service on ``lifecycle.tiers``; its start/stop go on ``parts``."""
    from core_server.storage.tiers.areas_service import Tiers

    service = Tiers(parts.engine, parts.archive, parts.bus)
    lifecycle.tiers = service
    parts.on_startup.append(service.start)
    parts.on_shutdown.append(service.stop)
    # The lifecycle rules' runner (helper B, docs/storage-rules.md): lifecycle.rules.
    from core_server.storage.tiers.runner import install_rules

    install_rules(lifecycle, parts)
