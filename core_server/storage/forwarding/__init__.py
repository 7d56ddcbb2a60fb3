"""Storage lifecycle: forwarding (docs/storage.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core_server.storage import Lifecycle, Parts


def install(lifecycle: Lifecycle, parts: Parts) -> None:
    """Build this part's service on ``lifecycle.forwarding``; its start/stop go on ``parts``."""
