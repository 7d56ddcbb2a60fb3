"""IHE ATNA: the audit trail sent to the hospital's audit repository as DICOM PS3.15 A.5
messages over syslog (docs/atna.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine

from core_server.archive import Archive
from core_server.atna.messages import Source
from core_server.atna.received import Arrivals
from core_server.atna.sender import AtnaSender, hostname
from core_server.atna.syslog import TlsTransport, Transport, UdpTransport
from core_server.events import EventBus
from core_server.settings import Settings

__all__ = ["Atna", "AtnaSender", "Source", "atna_for", "install"]


@dataclass
class Atna:
    sender: AtnaSender
    arrivals: Arrivals

    def start(self) -> None:
        self.arrivals.start()
        self.sender.start()

    def stop(self) -> None:
        self.arrivals.stop()  # its last summary is in the trail before the sender's last round
        self.sender.stop()


def transport_for(settings: Settings) -> Transport:
    if settings.atna_transport == "udp":
        return UdpTransport(settings.atna_host, settings.atna_port)
    return TlsTransport(
        settings.atna_host,
        settings.atna_port,
        ca=settings.atna_ca,
        cert=settings.tls_cert,
        key=settings.tls_key,
    )


def atna_for(settings: Settings, engine: Engine, archive: Archive, bus: EventBus) -> Atna | None:
    """The sender when an audit repository is set (``atna_host``), else None."""
    if not settings.atna_host:
        return None
    destination = f"{settings.atna_transport}://{settings.atna_host}:{settings.atna_port}"
    source = Source(hostname(), settings.ae_title, settings.atna_site)
    sender = AtnaSender(engine, archive, transport_for(settings), source, destination)
    return Atna(sender, Arrivals(engine, bus))


class _Lifecycle(Protocol):
    on_startup: list[Callable[[], None]]
    on_shutdown: list[Callable[[], None]]


def install(
    app: _Lifecycle, settings: Settings, engine: Engine, archive: Archive, bus: EventBus
) -> Atna | None:
    """Start the sender with the app (first, so ``application.start`` leads the trail) and
    stop it late (shutdown runs in reverse), when an audit repository is set."""
    atna = atna_for(settings, engine, archive, bus)
    if atna is not None:
        app.on_startup.insert(0, atna.start)
        app.on_shutdown.insert(0, atna.stop)
    return atna
