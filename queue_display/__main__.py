"""The waiting-room screen: wiring of config, the core link, the speech worker and pygame.

queue-display enrol --core-url URL --key KEY
queue-display [run] [--screenshot-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import queue
import shlex
import threading
from collections.abc import Sequence
from pathlib import Path

import pygame

from device_kit import cli, enrol_screen, enrolment, link
from device_kit.drivers import Availability, HardwareError
from device_kit.program import DeviceProgram, fetch_logo, getter, run_window, screen_needs
from device_kit.screen import Canvas, load_image
from device_kit.state import CachedLogo
from device_kit.systemd import Notifier
from queue_display import app as display
from queue_display import ui
from queue_display.hardware import EspeakSpeaker, Speaker
from queue_display.settings import Settings

log = logging.getLogger("queue_display")


class SpeechWorker:
    """Speaks calls one after the other off the main thread (a call takes seconds); a failure
    is logged with detail and shown on screen until a call succeeds again."""

    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker
        self.failed: str | None = None
        self._calls: queue.Queue[display.Speak | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
        self._thread.start()

    def say(self, call: display.Speak) -> None:
        self._calls.put(call)

    def idle(self) -> bool:
        return self._calls.unfinished_tasks == 0

    def stop(self) -> None:
        self._calls.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            try:
                self.speaker.speak(call.text, call.repeat, call.rate)
                self.failed = None
            except HardwareError as error:
                log.error("could not speak %r: %s", call.text, error)
                self.failed = str(error)
            except Exception as error:
                log.exception("speech driver failed")
                self.failed = repr(error)
            finally:
                self._calls.task_done()
        self._calls.task_done()


class DisplayProgram(DeviceProgram[display.Event]):
    def __init__(
        self,
        settings: Settings,
        record: enrolment.Enrolment,
        speaker: Speaker,
        canvas: Canvas,
        notifier: Notifier | None = None,
    ) -> None:
        super().__init__(settings, record, canvas, notifier)
        self.settings: Settings = settings
        self.app = display.DisplayApp(
            orientation=settings.orientation,
            rows=settings.rows,
            page_seconds=settings.page_seconds,
            queues_per_screen=settings.queues_per_screen,
            voice=settings.voice,
            refresh_seconds=settings.refresh_seconds,
        )
        self.speech = SpeechWorker(speaker)
        self.logo_cache = CachedLogo(settings.logo_file)
        self.logo: pygame.Surface | None = load_image(self.logo_cache.load())
        self.frames = 0
        self._last_frame = b""

    def start(self) -> None:
        super().start()
        self._do(self.app.start())

    def stop(self) -> None:
        super().stop()
        self.speech.stop()

    def handle(self, event: display.Event) -> None:
        self._do(self.app.handle(event))

    def status(self) -> str:
        return (
            ("online" if self.app.online else "offline")
            + (f", screen {self.app.screen}" if self.app.screen else ", not bound")
            + (f", speech failing: {self.speech.failed}" if self.speech.failed else "")
        )

    def draw(self) -> None:
        ui.draw(
            self.canvas,
            self.app.view(),
            self.text,
            self.logo,
            speech_failed=self.speech.failed is not None,
        )
        if self.settings.screenshot_dir is not None:
            digest = hashlib.blake2b(pygame.image.tobytes(self.canvas.surface, "RGB")).digest()
            if digest != self._last_frame:
                self._last_frame = digest
                self.frames += 1
                self.canvas.save_png(self.settings.screenshot_dir, f"frame-{self.frames:06d}.png")

    def translate(self, event: link.LinkEvent) -> display.Event | None:
        if isinstance(event, link.Online | link.Pushed):
            return event  # the state machine's own events
        if isinstance(event, link.Answer):
            return self._answer(event)
        return None  # spool events: this program spools nothing

    def _answer(self, answer: link.Answer) -> display.Event | None:
        if answer.tag == "me":
            if answer.error is not None:
                log.error("could not ask the core which screen this is: %s", answer.error)
                return display.FetchFailed(str(answer.error))
            screen = (answer.value or {}).get("screen")
            if not screen:
                log.error("this device is not bound to a screen in the core: %s", answer.value)
                return display.FetchFailed("not bound to a screen")
            self.link.submit("logo", fetch_logo)
            return display.Bound(screen)
        if answer.tag == "logo":
            self.logo = load_image(self.logo_cache.update(answer.value, answer.error))
            self._dirty = True
            return None
        if answer.error is not None:
            log.warning("could not fetch the screen state: %s", answer.error)
            return display.FetchFailed(str(answer.error))
        return display.StateFetched(answer.value)

    def _do(self, actions: Sequence[display.Action]) -> None:
        for action in actions:
            if isinstance(action, display.FetchBinding):
                self.link.submit("me", getter("/api/queueing/devices/me"))
            elif isinstance(action, display.FetchState):
                self.link.submit("state", getter(f"/api/queueing/screens/{action.screen}/state"))
            elif isinstance(action, display.Speak):
                self.speech.say(action)
            else:
                self._dirty = True


def speaker_for(settings: Settings) -> EspeakSpeaker:
    return EspeakSpeaker(
        settings.voice_name,
        tuple(shlex.split(settings.audio_player)),
        settings.audio_device or None,
        settings.state_dir,
    )


def check(settings: Settings) -> list[Availability]:
    return [screen_needs(settings), speaker_for(settings).is_available()]


def run(settings: Settings, args: argparse.Namespace) -> int:
    if getattr(args, "screenshot_dir", None):
        settings.screenshot_dir = Path(args.screenshot_dir)
    record = enrol_screen.obtain(settings)  # by code when only core_url is set
    speaker = speaker_for(settings)
    availability = speaker.is_available()
    if not availability.ok:
        log.error("%s: calls will not be spoken", availability.message())
    return run_window(settings, lambda canvas: DisplayProgram(settings, record, speaker, canvas))


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--screenshot-dir", help="write a PNG of each new frame into this folder")


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(Settings, run, check, argv, add_options)


if __name__ == "__main__":
    raise SystemExit(main())
