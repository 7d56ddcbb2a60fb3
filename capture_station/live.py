"""The station's side of the supervisor's live view (14.1.3, docs/capture-core.md).

A thread keeps a WebSocket to the core's ``/api/capture/live/station`` (the device key),
reconnecting with exponential back-off. The core says ``{"watch": true}`` when someone starts
watching this room and ``{"watch": false}`` when the last viewer leaves; only while watched
does the feed take the newest frame (``latest_frame()``, the preview's own), scale it down,
encode it to JPEG and send it, at most ``fps`` a second. Unwatched it encodes and sends
nothing, so the station's capture work pays nothing for a view nobody opened. Nothing is kept.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
from collections.abc import Callable

from PIL import Image
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from capture_station.contract import Frame

log = logging.getLogger(__name__)

PATH = "/api/capture/live/station"
REFUSED = (1008, 4401, 4403)  # not a (capture) device: retry only at the longest delay


def jpeg(frame: Frame, max_width: int = 768, quality: int = 70) -> bytes:
    """The frame as a JPEG no wider than ``max_width`` (a supervisor's view, not a capture)."""
    image = Image.fromarray(frame.pixels)
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _ws_url(core_url: str) -> str:
    base = core_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + PATH
    return "ws://" + base.removeprefix("http://") + PATH


class LiveFeed:
    def __init__(
        self,
        core_url: str,
        key: str,
        latest_frame: Callable[[], Frame | None],
        fps: float = 5,
        *,
        min_delay: float = 1.0,
        max_delay: float = 30.0,
        max_width: int = 768,
        quality: int = 70,
    ) -> None:
        self.url = _ws_url(core_url)
        self.key = key
        self.latest_frame = latest_frame
        self.interval = 1.0 / min(max(fps, 0.2), 5.0)  # the ceiling: 5 fps
        self.min_delay, self.max_delay = min_delay, max_delay
        self.max_width, self.quality = max_width, quality
        self.watched = False
        self.connected = False
        self.sent = 0  # frames sent since start (tests and the station's status read it)
        self._stop = threading.Event()
        self._socket: ClientConnection | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LiveFeed:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._socket is not None:
            with contextlib.suppress(Exception):
                self._socket.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
            log.info("live feed stopped: %d frames sent", self.sent)

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.min_delay
        while not self._stop.is_set():
            try:
                headers = {"Authorization": f"Bearer {self.key}"}
                with connect(self.url, additional_headers=headers, open_timeout=10) as socket:
                    self._socket, self.connected, delay = socket, True, self.min_delay
                    self._serve(socket)
                    code = socket.close_code
                if code in REFUSED:
                    log.warning("the core refused the live feed (close %s)", code)
                    delay = self.max_delay
            except InvalidStatus as refused:
                log.warning("the core refused the live feed: %s", refused)
                delay = self.max_delay
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as lost:
                log.info("live feed link lost: %s; again in %.0f s", lost, delay)
            finally:
                self._socket, self.connected, self.watched = None, False, False
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, self.max_delay)

    def _serve(self, socket: ClientConnection) -> None:
        """Until the link drops or the feed stops: follow ``watch`` and send frames."""
        last_sent, last_frame = 0.0, None
        while not self._stop.is_set():
            wait = max(0.0, last_sent + self.interval - time.monotonic()) if self.watched else 1.0
            try:
                message = socket.recv(timeout=wait)
            except TimeoutError:
                message = None
            if isinstance(message, str):
                with contextlib.suppress(ValueError, AttributeError):
                    watched = bool(json.loads(message).get("watch"))
                    if watched != self.watched:
                        # The administrator's record of who looked, and what it cost.
                        log.info("live view %s: %d frames sent", _said(watched), self.sent)
                    self.watched = watched
                continue
            if not self.watched or time.monotonic() < last_sent + self.interval:
                continue
            frame = self.latest_frame()
            if frame is None or frame is last_frame:  # no signal, or no new frame yet
                last_sent = time.monotonic()
                continue
            socket.send(jpeg(frame, self.max_width, self.quality))
            self.sent += 1
            last_sent, last_frame = time.monotonic(), frame


def _said(watched: bool) -> str:
    return "watched" if watched else "no longer watched"
