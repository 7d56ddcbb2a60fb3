"""A task that runs every so often on its own thread: the tickers of the domains (critical
value escalation, the queue's returns and closing, HL7 housekeeping...) share this one helper
instead of each keeping a copy of the loop.

A round that raises is logged and the next round runs as planned; ``stop`` wakes the thread at
once and waits for the round under way to finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, task: Callable[[], object]) -> None:
        self.name = name
        self.interval = interval
        self.task = task
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def run_once(self) -> None:
        try:
            self.task()
        except Exception:
            log.exception("%s: a round failed; the next runs in %.0f s", self.name, self.interval)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()
