"""The exam-room caller: wiring of config, the core link and spool, buttons and pygame.

caller-terminal enrol --core-url URL --key KEY
caller-terminal [run]
caller-terminal check
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pygame

from caller_terminal import app as caller
from caller_terminal import ui
from caller_terminal.hardware import ButtonSource, EvdevButtons, SerialButtons
from caller_terminal.settings import Settings
from device_kit import cli, enrolment, link
from device_kit.client import CoreClient
from device_kit.drivers import Availability, HardwareError, Needs
from device_kit.i18n import Messages
from device_kit.screen import Canvas, open_window
from device_kit.spool import Outcome, Spool
from device_kit.systemd import Notifier

log = logging.getLogger("caller_terminal")
RETRY_INPUT_SECONDS = 2.0


class CallerProgram:
    def __init__(
        self,
        settings: Settings,
        record: enrolment.Enrolment,
        buttons: list[ButtonSource],
        canvas: Canvas,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.text = Messages("caller_terminal", settings.language)
        self.canvas = canvas
        self.buttons = buttons
        self.notifier = notifier or Notifier()
        self.app = caller.CallerApp(
            call_ttl=settings.call_ttl_seconds, refresh_seconds=settings.refresh_seconds
        )
        self.spool = Spool(settings.spool_file)
        self.link = link.CoreLink(
            CoreClient(record, settings.request_timeout),
            self.spool,
            "/api/ws",
            settings.reconnect_min_delay,
            settings.reconnect_max_delay,
        )
        self.targets: list[ui.Target] = []
        self._down: dict[str, float] = {}  # input name -> when it failed
        self._last_second = -1
        self._dirty = True

    def start(self) -> None:
        self.link.start()
        self._do(self.app.start())

    def stop(self) -> None:
        self.link.stop()
        self.spool.close()
        for source in self.buttons:
            source.close()

    def press(self, command: str, ticket_id: int | None = None) -> None:
        self._do(self.app.handle(caller.Press(command, ticket_id)))

    def tap(self, position: tuple[int, int]) -> None:
        target = ui.hit(self.targets, position)
        if target is not None:
            self.press(target.command, target.ticket_id)

    def step(self, now: datetime | None = None) -> None:
        now = now or datetime.now()
        for event in self.link.events():
            self._do(self.app.handle(self._translate(event)))
        self._poll_buttons()
        if now.second != self._last_second:
            self._last_second = now.second
            self._do(self.app.handle(caller.Tick(now)))
        if self._dirty:
            self._dirty = False
            self.targets = ui.draw(self.canvas, self.app, self.text, len(self.spool))
            self.canvas.show()
        self.notifier.alive()
        self.notifier.status(
            f"room {self.app.room or '?'}, {'online' if self.app.online else 'offline'}, "
            f"{len(self.spool)} spooled"
        )

    def _poll_buttons(self) -> None:
        for source in self.buttons:
            failed_at = self._down.get(source.name)
            if failed_at is not None and time.monotonic() - failed_at < RETRY_INPUT_SECONDS:
                continue
            try:
                commands = source.poll()
            except HardwareError as error:
                if failed_at is None:
                    log.error("%s: %s", source.name, error)
                    self._do(self.app.handle(caller.InputStatus(source.name, False)))
                self._down[source.name] = time.monotonic()
                continue
            if failed_at is not None:
                log.info("%s is back", source.name)
                del self._down[source.name]
                self._do(self.app.handle(caller.InputStatus(source.name, True)))
            for command in commands:
                self.press(command)

    def _translate(self, event: link.LinkEvent) -> caller.Event:
        if isinstance(event, link.Online):
            return caller.Connection(event.online, event.reason)
        if isinstance(event, link.Pushed):
            return caller.Pushed(event.message)
        if isinstance(event, link.Settled):
            result = event.result
            accepted = result.outcome is Outcome.DONE
            answer = result.answer if isinstance(result.answer, dict) else None
            return caller.Settled(result.action.kind, result.action.key, accepted, answer)
        if isinstance(event, link.Expired):
            return caller.Expired(event.action.kind, event.action.key)
        if event.tag == "me":
            room = (event.value or {}).get("room") if event.error is None else None
            if room:
                return caller.Bound(room)
            log.error("this device is not bound to a room: %s", event.error or event.value)
            return caller.FetchFailed(str(event.error or "not bound to a room"))
        if event.error is not None:
            log.warning("could not fetch the room state: %s", event.error)
            return caller.FetchFailed(str(event.error))
        return caller.StateFetched(event.value)

    def _do(self, actions: Sequence[caller.Action]) -> None:
        for action in actions:
            if isinstance(action, caller.FetchBinding):
                self.link.submit("me", lambda c: c.get("/api/queueing/devices/me"))
            elif isinstance(action, caller.FetchState):
                path = f"/api/queueing/rooms/{action.room}/state"
                self.link.submit("state", _getter(path))
            elif isinstance(action, caller.Send):
                path = f"/api/queueing/rooms/{self.app.room}/{action.path}"
                spooled = self.link.spool_action(action.kind, "POST", path, action.body, action.ttl)
                self.app.sent(spooled.key, action.kind)
                self._dirty = True
            else:
                self._dirty = True


def _getter(path: str) -> Any:
    return lambda client: client.get(path)


def buttons_for(settings: Settings) -> list[ButtonSource]:
    sources: list[ButtonSource] = []
    if "evdev" in settings.inputs:
        sources.append(EvdevButtons(settings.evdev_device, settings.keymap))
    if "serial" in settings.inputs:
        sources.append(
            SerialButtons(settings.serial_port, settings.serial_baudrate, settings.serial_codes)
        )
    return sources


def check(settings: Settings) -> list[Availability]:
    from device_kit.fonts import CJK_FONT_PATHS

    font = settings.font_path or CJK_FONT_PATHS[0]
    screen = Needs("screen").module("pygame").file(font, "Chinese font (fonts-wqy-microhei)")
    return [screen.result(), *(source.is_available() for source in buttons_for(settings))]


def run(settings: Settings, args: argparse.Namespace) -> int:
    record = enrolment.load(settings.enrolment_file, settings.program)
    buttons = buttons_for(settings)
    for source in buttons:
        availability = source.is_available()
        if not availability.ok:
            log.error("%s", availability.message())
    canvas = open_window(settings.size, settings.fullscreen, "caller-terminal", settings.font_path)
    program = CallerProgram(settings, record, buttons, canvas)
    program.start()
    program.notifier.ready()
    clock = pygame.time.Clock()
    touch = "touch" in settings.inputs
    try:
        while True:
            for event in pygame.event.get():
                if event.type == pygame.QUIT:
                    return 0
                # SDL turns a tap on a touchscreen into a mouse click too: one handler.
                if touch and event.type == pygame.MOUSEBUTTONDOWN:
                    program.tap(event.pos)
            program.step()
            clock.tick(settings.frames_per_second)
    finally:
        program.notifier.stopping()
        program.stop()
        pygame.quit()


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(Settings, run, check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
