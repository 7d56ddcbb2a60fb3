"""The archive's lifecycle (docs/storage.md): storage tiers and recall (``tiers``),
compression policies (``compression``), forwarding to other nodes (``forwarding``), the
recycle bin and IOCM rejection (``recycle``), media import and archive backup
(``importing``). Each part builds its service in its ``install`` and keeps it on
:class:`Lifecycle`; the web routes under ``/api/storage`` reach them there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from core_server.archive import Archive
from core_server.events import EventBus
from core_server.reporting import Reporting
from core_server.ris import Ris
from core_server.settings import Settings


@dataclass
class Parts:
    """What the server hands the lifecycle: the core's services, and the lists of what to
    run when the web app starts and stops (the server's, appended to in place)."""

    settings: Settings
    engine: Engine
    bus: EventBus
    archive: Archive
    ris: Ris | None = None
    reporting: Reporting | None = None
    on_startup: list[Callable[[], None]] = field(default_factory=list)
    on_shutdown: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class Lifecycle:
    """The parts' services, each set by its own ``install`` (typed by the part)."""

    tiers: Any = None
    rules: Any = None  # the lifecycle rules' runner (storage/tiers/runner.py)
    compression: Any = None
    forwarding: Any = None
    recycle: Any = None
    importing: Any = None


def install(parts: Parts) -> Lifecycle:
    """Build every part and register its background work with the start and stop lists."""
    from core_server.storage import compression, forwarding, importing, recycle, tiers

    lifecycle = Lifecycle()
    for part in (tiers, compression, forwarding, recycle, importing):
        part.install(lifecycle, parts)
    return lifecycle
