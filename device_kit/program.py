"""What every device program's wiring shares: the turn of the main loop (link events into
the state machine, a tick a second, a redraw when something changed, the systemd watchdog),
input devices polled with a retry after a failure, and the pygame window's loop."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

import pygame

from device_kit import enrolment, link
from device_kit.client import CoreClient, CoreRefused
from device_kit.config import ScreenSettings
from device_kit.drivers import Availability, HardwareError, InputSource, Needs
from device_kit.events import Tick
from device_kit.fonts import CJK_FONT_PATHS
from device_kit.i18n import Messages
from device_kit.screen import Canvas, open_window
from device_kit.spool import Spool
from device_kit.systemd import Notifier

log = logging.getLogger(__name__)
E = TypeVar("E")  # the program's own state-machine events
RETRY_INPUT_SECONDS = 2.0
WEBSOCKET_PATH = "/api/ws"


class DeviceProgram(ABC, Generic[E]):
    """A program's wiring subclasses this with its translation of link events, its handling
    of its machine's actions, its drawing and its status line."""

    def __init__(
        self,
        settings: ScreenSettings,
        record: enrolment.Enrolment,
        canvas: Canvas,
        notifier: Notifier | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.settings = settings
        self.text = Messages(settings.program.replace("-", "_"), settings.language)
        self.canvas = canvas
        self.notifier = notifier or Notifier()
        self.link = link.CoreLink(
            CoreClient(record, settings.request_timeout, settings.language),
            spool,
            WEBSOCKET_PATH,
            settings.reconnect_min_delay,
            settings.reconnect_max_delay,
        )
        self._last_second = -1
        self._dirty = True

    @abstractmethod
    def handle(self, event: E | Tick) -> None:
        """Give the event to the state machine and carry out the actions it returns."""

    @abstractmethod
    def translate(self, event: link.LinkEvent) -> E | None:
        """The machine's event for a link event (None: nothing for this program)."""

    @abstractmethod
    def draw(self) -> None: ...

    @abstractmethod
    def status(self) -> str:
        """One line for ``systemctl status``."""

    def poll(self) -> None:
        """Read the program's input devices (none by default)."""

    def step(self, now: datetime | None = None) -> None:
        """One turn of the main loop."""
        now = now or datetime.now()
        for event in self.link.events():
            translated = self.translate(event)
            if translated is not None:
                self.handle(translated)
        self.poll()
        if now.second != self._last_second:
            self._last_second = now.second
            self.handle(Tick(now))
        if self._dirty:
            self._dirty = False
            self.draw()
            self.canvas.show()
        self.notifier.alive()
        self.notifier.status(self.status())

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        self.link.stop()


class PolledInput:
    """An input device the main loop polls. One that fails (unplugged, cable off) is logged
    and reported once, then tried again every ``retry`` seconds until it works again."""

    def __init__(self, source: InputSource, retry: float = RETRY_INPUT_SECONDS) -> None:
        self.source = source
        self._retry = retry
        self._failed_at: float | None = None

    def poll(self) -> tuple[list[str], bool | None]:
        """What was entered, and the device's change of state: False it went away, True it
        is back, None no change."""
        failed_at = self._failed_at
        if failed_at is not None and time.monotonic() - failed_at < self._retry:
            return [], None
        try:
            entered = self.source.poll()
        except HardwareError as error:
            self._failed_at = time.monotonic()
            if failed_at is None:
                log.error("%s: %s", self.source.name, error)
                return [], False
            return [], None
        if failed_at is not None:
            log.info("%s is back", self.source.name)
            self._failed_at = None
            return entered, True
        return entered, None


def getter(path: str) -> Callable[[CoreClient], Any]:
    """A request for ``CoreLink.submit``: GET ``path``."""
    return lambda client: client.get(path)


def fetch_logo(client: CoreClient) -> bytes | None:
    """A request for ``CoreLink.submit``: the hospital logo, None when none is configured."""
    try:
        return client.get_bytes("/api/queueing/logo")
    except CoreRefused:
        return None


def screen_needs(settings: ScreenSettings) -> Availability:
    """What the screen needs, for ``<program> check``."""
    font = settings.font_path or CJK_FONT_PATHS[0]
    return Needs("screen").module("pygame").file(font, "Chinese font (fonts-wqy-microhei)").result()


P = TypeVar("P", bound=DeviceProgram[Any])


def run_window(
    settings: ScreenSettings,
    make: Callable[[Canvas], P],
    on_event: Callable[[P, pygame.event.Event], None] | None = None,
) -> int:
    """Open the window, run the program until the window closes (or SIGTERM), clean up."""
    canvas = open_window(settings.size, settings.fullscreen, settings.program, settings.font_path)
    program = make(canvas)
    program.start()
    program.notifier.ready()
    clock = pygame.time.Clock()
    try:
        while True:
            for event in pygame.event.get():
                if event.type == pygame.QUIT:
                    return 0
                if on_event is not None:
                    on_event(program, event)
            program.step()
            clock.tick(settings.frames_per_second)
    finally:
        program.notifier.stopping()
        program.stop()
        pygame.quit()
