"""The device's link to the core, off the main (pygame) thread.

- a WebSocket thread (asyncio + websockets) that stays connected, reconnecting with
  exponential backoff (websockets' own ``reconnect_delays``), and posts each pushed message
  and each online/offline change to the inbox;
- a worker thread that replays the spool in order whenever something is spooled or the link
  comes back (and every ``retry_interval`` s), and runs one-off requests the program submits.

The main loop only reads ``inbox`` (a thread-safe queue) and calls ``spool_action`` / ``submit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import queue
import threading
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.client import backoff, process_exception
from websockets.exceptions import ConnectionClosed, InvalidStatus

from device_kit.client import CoreClient, CoreRefused, CoreUnreachable, tls_context, untrusted
from device_kit.events import Connection as Online
from device_kit.events import Pushed
from device_kit.spool import Action, Result, Spool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settled:
    """A spooled action the core accepted or refused."""

    result: Result


@dataclass(frozen=True)
class Expired:
    """A spooled action dropped unsent because it was too old to make sense."""

    action: Action


@dataclass(frozen=True)
class Answer:
    """The answer to a request submitted with ``submit``: ``value`` or ``error`` is set."""

    tag: str
    value: Any = None
    error: Exception | None = None


# ``Online`` and ``Pushed`` are the state machines' own events: the wiring passes them on.
__all__ = ["Answer", "CoreLink", "Expired", "LinkEvent", "Online", "Pushed", "Settled"]

# The core closes with these when the key is unknown/revoked (4401) or not allowed (4403).
REFUSED_CLOSE_CODES = (4401, 4403)

LinkEvent = Online | Pushed | Settled | Expired | Answer


class CoreLink:
    def __init__(
        self,
        client: CoreClient,
        spool: Spool | None,
        websocket_path: str | None,
        min_delay: float = 1.0,
        max_delay: float = 30.0,
        retry_interval: float = 5.0,
    ) -> None:
        self.client = client
        self.spool = spool
        self.inbox: queue.Queue[LinkEvent] = queue.Queue()
        self._websocket_path = websocket_path
        self._delays = functools.partial(
            backoff, initial_delay=min_delay, min_delay=min_delay, max_delay=max_delay
        )
        self._max_delay = max_delay
        self._refused = False
        self._untrusted = False  # said once until a connection succeeds
        self._retry_interval = retry_interval
        self._wake = threading.Event()
        self._requests: queue.Queue[tuple[str, Callable[[CoreClient], Any]]] = queue.Queue()
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._threads: list[threading.Thread] = []

    # -- for the main loop -------------------------------------------------------------

    def start(self) -> CoreLink:
        worker = threading.Thread(target=self._work, name="core-worker", daemon=True)
        self._threads.append(worker)
        if self._websocket_path is not None:
            ws = threading.Thread(target=self._listen, name="core-websocket", daemon=True)
            self._threads.append(ws)
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        for thread in self._threads:
            thread.join(timeout=10)
        self.client.close()

    def spool_action(
        self, kind: str, method: str, path: str, body: dict[str, Any], ttl: float | None = None
    ) -> Action:
        """Put an action on disk and wake the worker: it reaches the core once, in order."""
        assert self.spool is not None, "this program has no spool"
        action = self.spool.add(kind, method, path, body, ttl)
        self._wake.set()
        return action

    def submit(self, tag: str, call: Callable[[CoreClient], Any]) -> None:
        """Run ``call(client)`` on the worker; its result comes back as ``Answer(tag, ...)``."""
        self._requests.put((tag, call))
        self._wake.set()

    def events(self) -> list[LinkEvent]:
        """Everything that arrived since the last call, without blocking."""
        out: list[LinkEvent] = []
        while True:
            try:
                out.append(self.inbox.get_nowait())
            except queue.Empty:
                return out

    # -- worker thread -----------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._retry_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            while True:
                try:
                    tag, call = self._requests.get_nowait()
                except queue.Empty:
                    break
                try:
                    self.inbox.put(Answer(tag, value=call(self.client)))
                except (CoreUnreachable, CoreRefused) as error:
                    self.inbox.put(Answer(tag, error=error))
                except Exception as error:  # reported to the program, logged
                    log.exception("request %s failed", tag)
                    self.inbox.put(Answer(tag, error=error))
            if self.spool is None:
                continue
            settled, expired = self.spool.replay(self.client.send)
            for result in settled:
                self.inbox.put(Settled(result))
            for action in expired:
                log.warning("dropped %s %s: expired unsent", action.kind, action.key)
                self.inbox.put(Expired(action))

    # -- WebSocket thread ----------------------------------------------------------------

    def _listen(self) -> None:
        loop = asyncio.new_event_loop()
        self._task = loop.create_task(self._listen_forever())
        self._loop = loop
        if self._stop.is_set():
            self._task.cancel()
        try:
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # websockets found it fatal (a bad URL...): say so
            log.exception("the link to the core stopped: %s", error)
            self.inbox.put(Online(False, "error"))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _listen_forever(self) -> None:
        assert self._websocket_path is not None
        # The key goes in the Authorization header, which the core accepts before the
        # handshake like the ?token= query (kept for browsers): a query string ends up in
        # access logs, a header does not.
        url = f"{self.client.enrolment.websocket_url}{self._websocket_path}"
        headers = {"Authorization": f"Bearer {self.client.enrolment.device_key}"}
        online = False
        context = tls_context(self.client.enrolment)  # wss: checked against the pinned CA
        connections: AsyncGenerator[ClientConnection] = connect(  # type: ignore[assignment]
            url,
            ssl=context,
            additional_headers=headers,
            reconnect_delays=self._delays,
            process_exception=self._connect_failed,
            open_timeout=10,
            ping_interval=10,
            ping_timeout=10,
            close_timeout=2,
        ).__aiter__()
        # Closed here, on cancel too: the open connection shuts down before the loop does.
        async with contextlib.aclosing(connections):
            async for ws in connections:
                online, self._refused, self._untrusted = True, False, False
                self.inbox.put(Online(True))
                self._wake.set()  # the core is back: replay the spool now
                try:
                    async for raw in ws:
                        try:
                            message = json.loads(raw)
                        except ValueError:
                            log.warning("ignoring a non-JSON message from the core: %.200r", raw)
                            continue
                        if isinstance(message, dict):
                            self.inbox.put(Pushed(message))
                except ConnectionClosed as closed:
                    log.info("core connection closed: %s", closed)
                refused = ws.close_code in REFUSED_CLOSE_CODES
                if refused:
                    log.error("the core refused this device (close code %s)", ws.close_code)
                if online or refused:
                    online = False
                    self.inbox.put(Online(False, "refused" if refused else "connection closed"))
                if refused:
                    # Not an outage: wait the longest delay before asking again.
                    await asyncio.sleep(self._max_delay)
                if self._stop.is_set():
                    return

    def _connect_failed(self, error: Exception) -> Exception | None:
        """Keep reconnecting (with backoff) through everything a core or network outage
        causes. A refused key (HTTP 401/403 at the handshake) is shown as "refused" and retried
        too, at the backoff's pace: the administrator may renew the device and restart it."""
        if isinstance(error, InvalidStatus) and error.response.status_code in (401, 403):
            if not self._refused:
                self._refused = True
                log.error("the core refused this device's key: enrol it again")
                self.inbox.put(Online(False, "refused"))
            return None
        if untrusted(error):
            if not self._untrusted:
                self._untrusted = True
                log.error("the core's TLS certificate is not trusted (%s): enrol again", error)
                self.inbox.put(Online(False, "untrusted"))
            return None  # retried at the backoff's pace, never in clear text
        if isinstance(error, OSError | asyncio.TimeoutError | InvalidStatus | ConnectionClosed):
            return None
        return process_exception(error)
