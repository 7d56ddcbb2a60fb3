"""The core's side of systemd's ``Type=notify`` and ``WatchdogSec=``: ``READY=1`` once every
listener (HTTP, DICOM, HL7, and any other the web context lists) runs, then ``WATCHDOG=1`` at
half the watchdog interval, but only while all of them still run. A core whose DICOM or HL7
listener died stops pinging and systemd restarts it, instead of it answering HTTP half-alive.

The protocol is one datagram on the Unix socket named by ``NOTIFY_SOCKET`` (sd_notify(3));
written here in a few lines rather than adding a dependency to the core.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

from core_server.periodic import Periodic

log = logging.getLogger(__name__)
MAX_ROUND = 1.0  # seconds between checks at most, so READY follows the listeners quickly


def notify(address: str, message: str) -> None:
    """Send one sd_notify message; "@name" is an abstract socket."""
    target = "\0" + address[1:] if address.startswith("@") else address
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.sendto(message.encode(), target)


class Watchdog:
    def __init__(
        self,
        listeners: Mapping[str, Callable[[], bool]],
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.listeners = listeners
        self.address = environ.get("NOTIFY_SOCKET", "")
        usec = int(environ.get("WATCHDOG_USEC") or 0)
        # WATCHDOG_PID, when set, names the process that must ping (sd_watchdog_enabled(3)).
        pid = environ.get("WATCHDOG_PID")
        self.pings = bool(usec) and (not pid or pid == str(os.getpid()))
        interval = min(usec / 2_000_000, MAX_ROUND) if self.pings else MAX_ROUND
        self.ready = False
        self._down: tuple[str, ...] = ()
        self._ticker = Periodic("systemd-watchdog", interval, self.run_once)

    @property
    def active(self) -> bool:
        return bool(self.address)

    def start(self) -> None:
        if self.active:
            self._ticker.start()

    def stop(self) -> None:
        if self.active:
            self._ticker.stop()
            self._send("STOPPING=1")

    def down(self) -> tuple[str, ...]:
        """The listeners that do not run now (one that raises counts as down)."""
        names = []
        for name, running in list(self.listeners.items()):
            try:
                if not running():
                    names.append(name)
            except Exception:
                log.exception("listener check %s failed", name)
                names.append(name)
        return tuple(names)

    def run_once(self) -> None:
        down = self.down()
        if down:
            if down != self._down:
                log.warning("listeners not running: %s (no watchdog ping)", ", ".join(down))
                self._send("STATUS=not running: " + ", ".join(down))
        elif not self.ready:
            self.ready = True
            self._send("READY=1\nSTATUS=listening: " + ", ".join(self.listeners))
        elif self.pings:
            if self._down:  # back after a listener came up again within the interval
                self._send("STATUS=listening: " + ", ".join(self.listeners))
            self._send("WATCHDOG=1")
        self._down = down

    def _send(self, message: str) -> None:
        try:
            notify(self.address, message)
        except OSError as error:  # systemd gone or the socket unwritable: keep serving
            log.warning("sd_notify to %s failed: %s", self.address, error)
