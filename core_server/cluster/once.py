"""A ticker's round once in the cluster: the node that takes the ticker's advisory lock runs
the round, any other skips it. A scheduled round also skips when another node began one less
than ``DUE_FRACTION`` of the interval ago (``cluster_tickers``), so N nodes ticking every
*t* run the work about once per *t*, not N times; a round asked for (a wake, a run by hand)
runs whenever the lock is free. On SQLite (one process) the round simply runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert

from core_server import clock
from core_server.cluster.locks import NODE, key_of, release, try_hold
from core_server.cluster.tables import cluster_tickers

log = logging.getLogger(__name__)
DUE_FRACTION = 0.8


class ClusterOnce:
    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.lock_name = f"ticker:{name}"

    def run(self, task: Callable[[], object], *, interval: float | None = None) -> bool:
        """Runs ``task`` unless another node holds the round (or, with ``interval``, ran one
        lately); whether it ran. The task's error goes to the caller."""
        if self.engine.dialect.name != "postgresql":
            task()
            return True
        with self.engine.connect() as conn:
            if not try_hold(conn, self.lock_name):
                log.debug("%s: another node runs this round", self.name)
                return False
            try:
                now = clock.now()
                with conn.begin():
                    last = conn.execute(
                        select(cluster_tickers.c.started_at).where(
                            cluster_tickers.c.name == self.name
                        )
                    ).scalar()
                    lately = timedelta(seconds=(interval or 0) * DUE_FRACTION)
                    if interval is not None and last is not None and now - last < lately:
                        return False
                    values = {"node": NODE, "started_at": now, "finished_at": None}
                    conn.execute(
                        insert(cluster_tickers)
                        .values(name=self.name, **values)
                        .on_conflict_do_update(index_elements=["name"], set_=values)
                    )
                task()
                with conn.begin():
                    conn.execute(
                        update(cluster_tickers)
                        .where(cluster_tickers.c.name == self.name)
                        .values(finished_at=clock.now())
                    )
                return True
            finally:
                release(conn, key_of(self.lock_name))
