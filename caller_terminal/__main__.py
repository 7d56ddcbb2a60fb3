"""The exam-room caller: wiring of config, the core link and spool, buttons and pygame.

caller-terminal enrol --core-url URL --key KEY
caller-terminal [run]
caller-terminal check
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import pygame

from caller_terminal import app as caller
from caller_terminal import ui
from caller_terminal.hardware import ButtonSource, EvdevButtons, SerialButtons
from caller_terminal.settings import Settings
from device_kit import cli, enrol_screen, enrolment, link
from device_kit.drivers import Availability
from device_kit.program import DeviceProgram, PolledInput, getter, run_window, screen_needs
from device_kit.screen import Canvas
from device_kit.spool import Outcome, Spool
from device_kit.systemd import Notifier

log = logging.getLogger("caller_terminal")


class CallerProgram(DeviceProgram[caller.Event]):
    def __init__(
        self,
        settings: Settings,
        record: enrolment.Enrolment,
        buttons: list[ButtonSource],
        canvas: Canvas,
        notifier: Notifier | None = None,
    ) -> None:
        self.spool = Spool(settings.spool_file)
        super().__init__(settings, record, canvas, notifier, self.spool)
        self.buttons = [PolledInput(source) for source in buttons]
        self.app = caller.CallerApp(
            call_ttl=settings.call_ttl_seconds, refresh_seconds=settings.refresh_seconds
        )
        self.targets: list[ui.Target] = []

    def start(self) -> None:
        super().start()
        self._do(self.app.start())

    def stop(self) -> None:
        super().stop()
        self.spool.close()
        for button in self.buttons:
            button.source.close()

    def press(self, command: str, ticket_id: int | None = None) -> None:
        self.handle(caller.Press(command, ticket_id))

    def tap(self, position: tuple[int, int]) -> None:
        target = ui.hit(self.targets, position)
        if target is not None:
            self.press(target.command, target.ticket_id)

    def handle(self, event: caller.Event) -> None:
        self._do(self.app.handle(event))

    def draw(self) -> None:
        self.targets = ui.draw(self.canvas, self.app, self.text, len(self.spool))

    def status(self) -> str:
        return (
            f"room {self.app.room or '?'}, {'online' if self.app.online else 'offline'}, "
            f"{len(self.spool)} spooled"
        )

    def poll(self) -> None:
        for button in self.buttons:
            commands, change = button.poll()
            if change is not None:
                self.handle(caller.InputStatus(button.source.name, change))
            for command in commands:
                self.press(command)

    def translate(self, event: link.LinkEvent) -> caller.Event:
        if isinstance(event, link.Online | link.Pushed):
            return event  # the state machine's own events
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
                self.link.submit("me", getter("/api/queueing/devices/me"))
            elif isinstance(action, caller.FetchState):
                self.link.submit("state", getter(f"/api/queueing/rooms/{action.room}/state"))
            elif isinstance(action, caller.Send):
                path = f"/api/queueing/rooms/{self.app.room}/{action.path}"
                spooled = self.link.spool_action(action.kind, "POST", path, action.body, action.ttl)
                self.app.sent(spooled.key, action.kind)
                self._dirty = True
            else:
                self._dirty = True


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
    return [screen_needs(settings), *(source.is_available() for source in buttons_for(settings))]


def run(settings: Settings, args: argparse.Namespace) -> int:
    record = enrol_screen.obtain(settings)  # by code when only core_url is set
    buttons = buttons_for(settings)
    for source in buttons:
        availability = source.is_available()
        if not availability.ok:
            log.error("%s", availability.message())
    touch = "touch" in settings.inputs

    def tapped(program: CallerProgram, event: pygame.event.Event) -> None:
        # SDL turns a tap on a touchscreen into a mouse click too: one handler.
        if touch and event.type == pygame.MOUSEBUTTONDOWN:
            program.tap(event.pos)

    return run_window(
        settings, lambda canvas: CallerProgram(settings, record, buttons, canvas), tapped
    )


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(Settings, run, check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
