"""systemd notify and watchdog (sdnotify): READY once the program works, STATUS lines for
``systemctl status``, WATCHDOG pings from the main loop only (a hung loop gets restarted)."""

from __future__ import annotations

import os
import time

import sdnotify


class Notifier:
    def __init__(self) -> None:
        self._notify = sdnotify.SystemdNotifier()
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        # Ping at half the watchdog interval, as sd_watchdog_enabled(3) advises.
        self.interval = usec / 2_000_000 if usec else None
        self._last_ping = 0.0
        self._status = ""

    @property
    def active(self) -> bool:
        return bool(os.environ.get("NOTIFY_SOCKET"))

    def ready(self) -> None:
        self._notify.notify("READY=1")

    def status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self._notify.notify(f"STATUS={text}")

    def alive(self) -> None:
        """Call every main-loop turn; pings the watchdog when due."""
        if self.interval is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.interval:
            self._last_ping = now
            self._notify.notify("WATCHDOG=1")

    def stopping(self) -> None:
        self._notify.notify("STOPPING=1")
