"""The consistency check as the operator and the daily ticker run it (the check itself:
:mod:`core_server.archive.areas.check`)."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from core_server.archive.areas import check
from core_server.archive.areas.registry import Areas
from core_server.periodic import Periodic
from core_server.refusals import Conflict

DAILY_SAMPLE = 2000  # objects a day: bounded, so that a big archive's day is not spent on it
INTERVAL = 24 * 3600.0


class Checker:
    def __init__(self, engine: Engine, areas: Areas, sample: int = DAILY_SAMPLE) -> None:
        self.engine = engine
        self.areas = areas
        self.sample = sample
        self._running = threading.Lock()
        self.ticker = Periodic("storage-check", INTERVAL, self._daily, cluster=engine)

    def run(self, *, sample: int | None, repair: bool) -> check.Report:
        """One check now (``sample`` None: every object); refused while one runs here."""
        if not self._running.acquire(blocking=False):
            raise Conflict("storage.tiers.check_running")
        try:
            return check.run(
                self.engine,
                self.areas,
                sample=sample,
                repair=repair,
                stopping=lambda: self.ticker.stopping,
            )
        finally:
            self._running.release()

    @property
    def busy(self) -> bool:
        return self._running.locked()

    def _daily(self) -> None:
        self.run(sample=self.sample, repair=True)

    def last(self) -> check.Report | None:
        return check.last(self.engine)

    def start(self) -> None:
        self.ticker.start()

    def stop(self) -> None:
        self.ticker.stop()
