"""A task that runs every so often on its own thread: the tickers of the domains (critical
value escalation, the queue's returns and closing, HL7 housekeeping...) share this one helper
instead of each keeping a copy of the loop.

A round that raises is logged and the next round runs as planned; ``stop`` wakes the thread at
once and waits for the round under way to finish. ``wake`` runs the next round now (a job
queued, a print asked for) instead of at the end of the interval; ``at_start`` runs the first
round as soon as the thread starts.

``cluster=engine`` makes the round once in the cluster (``docs/cluster-state.md``): on
PostgreSQL the node that takes the ticker's advisory lock runs it and the others skip it (and
a scheduled round is skipped when another node began one within most of the interval); work
already claimed row by row (durable jobs) and per-node work leave it out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from core_server.cluster.once import ClusterOnce

log = logging.getLogger(__name__)


class Periodic:
    def __init__(
        self,
        name: str,
        interval: float,
        task: Callable[[], object],
        *,
        at_start: bool = False,
        cluster: Engine | None = None,
    ) -> None:
        self.name = name
        self.interval = interval
        self.task = task
        self.at_start = at_start
        self.once = ClusterOnce(cluster, name) if cluster is not None else None
        self._stop = threading.Event()
        self._woken = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._woken.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    @property
    def stopping(self) -> bool:
        """True once ``stop`` is asked: a long round checks it between its pieces."""
        return self._stop.is_set()

    def wake(self) -> None:
        self._woken.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            if self._thread.is_alive():  # a round still under way: it stops when it ends
                return
            self._thread = None
        self._stop.clear()  # rounds run by hand (tests, the CLI) still go on

    def run_once(self, *, scheduled: bool = False) -> None:
        """One round now (``scheduled``: the timer's, which a cluster-once ticker skips when
        another node ran one lately)."""
        try:
            if self.once is None:
                self.task()
            else:
                self.once.run(self.task, interval=self.interval if scheduled else None)
        except Exception:
            log.exception("%s: a round failed; the next runs in %.0f s", self.name, self.interval)

    def _run(self) -> None:
        if self.at_start:
            self.run_once(scheduled=True)
        while not self._stop.is_set():
            woken = self._woken.wait(self.interval)
            self._woken.clear()
            if self._stop.is_set():
                break
            self.run_once(scheduled=not woken)
