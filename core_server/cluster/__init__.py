"""Cluster state (``docs/cluster-state.md``): what several core nodes on one PostgreSQL share
instead of keeping it in one process. On SQLite (one process) each piece does nothing.

- :mod:`~core_server.cluster.relay`: the bus's crossing topics go to the other nodes
  (a ``cluster_events`` row announced by ``NOTIFY core_events``, caught up after a reconnect).
- :mod:`~core_server.cluster.once`: a ticker's round runs on one node of the cluster
  (an advisory lock and the ``cluster_tickers`` row of its last round).
- :mod:`~core_server.cluster.locks`: advisory locks by name (one recall of a study at a time,
  one schema upgrade at a time).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from core_server.cluster import tables  # noqa: F401  (registers the tables)
from core_server.cluster.locks import NODE, held, key_of, try_held
from core_server.cluster.once import ClusterOnce
from core_server.cluster.relay import Relay
from core_server.events import EventBus

__all__ = ["NODE", "ClusterOnce", "Relay", "held", "install", "key_of", "try_held"]


def install(
    engine: Engine,
    bus: EventBus,
    on_startup: list[Callable[[], None]],
    on_shutdown: list[Callable[[], None]],
) -> Relay:
    """The relay of ``bus`` over ``engine``, started and stopped with the app."""
    relay = Relay(engine, bus)
    on_startup.append(relay.start)
    on_shutdown.append(relay.stop)
    return relay
