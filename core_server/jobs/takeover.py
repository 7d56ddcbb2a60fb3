"""A dead process's claims taken over at once, on any node (docs/cluster-state.md, "Take-over").

The core registers its liveness (``cluster.nodes``) under the name its claims carry, and a
cluster-once ticker (``job-takeover``, every :data:`ROUND_SECONDS`) gives every claim of a
process the database knows is dead back, in every claimed table (:func:`claims.registered`):
a job becomes pending and due now, an inbound HL7 message failed (its resend is applied). A
claim of a process that is alive is never touched, however old; one whose owner never
registered waits for its lease as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import Engine

from core_server.cluster import nodes
from core_server.jobs import claims, owners
from core_server.periodic import Periodic

log = logging.getLogger(__name__)

ROUND_SECONDS = 2.0
FORGET_EVERY = 600.0  # seconds between clean-ups of long-dead processes' rows


def release_dead(engine: Engine) -> dict[str, int]:
    """One round: the claims of dead registered processes released, per table (only the
    tables where some were)."""
    dead = nodes.dead_owners(engine)
    if not dead:
        return {}
    released: dict[str, int] = {}
    for claimed in claims.registered():
        try:
            count = claimed.release(engine, dead)
        except Exception:  # one table's trouble does not hold up the others
            log.exception("take-over: releasing claims in %s failed", claimed.table.name)
            continue
        if count:
            released[claimed.table.name] = count
    return released


class Takeover:
    """This process's liveness and the cluster's take-over ticker, started with the app."""

    def __init__(
        self, engine: Engine, owner: str | None = None, interval: float = ROUND_SECONDS
    ) -> None:
        self.engine = engine
        self.owner = owner or owners.this_process()
        self.ticker = Periodic("job-takeover", interval, self.round, cluster=engine)
        self._forgotten = time.monotonic()

    def start(self) -> None:
        nodes.join(self.engine, self.owner)
        self.ticker.start()

    def stop(self) -> None:
        self.ticker.stop()
        nodes.leave(self.engine, self.owner)

    def round(self) -> dict[str, int]:
        released = release_dead(self.engine)
        if released:
            log.warning("take-over: claims of dead core processes released: %s", released)
        if time.monotonic() - self._forgotten > FORGET_EVERY:
            self._forgotten = time.monotonic()
            nodes.forget(self.engine)
        return released


def install(
    engine: Engine,
    on_startup: list[Callable[[], None]],
    on_shutdown: list[Callable[[], None]],
) -> Takeover:
    """Started before the services that claim, stopped after them (shutdown runs in reverse):
    a process stopping in order has recorded its claims before its liveness goes."""
    takeover = Takeover(engine)
    on_startup.append(takeover.start)
    on_shutdown.append(takeover.stop)
    return takeover
