"""The disc kiosk: wiring of config, the core link, the reader, the writer, the job worker and
pygame.

kiosk-burner enrol --core-url URL --key KEY
kiosk-burner [run]
kiosk-burner check
kiosk-burner options
kiosk-burner make-iso --core-url URL --key KEY (--accession ACC | --study-uid UID) OUT.iso
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pygame

from device_kit import cli, enrol_screen, enrolment, link
from device_kit.client import CoreClient, CoreRefused
from device_kit.drivers import Availability, InputSource, Needs
from device_kit.i18n import Messages
from device_kit.program import (
    DeviceProgram,
    PolledInput,
    fetch_logo,
    getter,
    run_window,
    screen_needs,
)
from device_kit.screen import Canvas, load_image
from device_kit.state import CachedLogo
from device_kit.systemd import Notifier
from kiosk_burner import app as kiosk
from kiosk_burner import ui, wiring
from kiosk_burner.contract import DiscWriter
from kiosk_burner.settings import Settings
from kiosk_burner.worker import HeldJob, JobRunner, Timing, Worker

log = logging.getLogger("kiosk_burner")


class KioskBurnerProgram(DeviceProgram[kiosk.Event]):
    def __init__(
        self,
        settings: Settings,
        record: enrolment.Enrolment,
        writer: DiscWriter,
        scanner: InputSource,
        canvas: Canvas,
        notifier: Notifier | None = None,
        runner: JobRunner | None = None,
    ) -> None:
        super().__init__(settings, record, canvas, notifier)
        self.scanner = PolledInput(scanner)
        self.second = Messages("kiosk_burner", "en") if settings.language == "zh" else None
        self.hospital = settings.hospital_name
        self.logo_cache = CachedLogo(settings.logo_file)
        self.logo: pygame.Surface | None = load_image(self.logo_cache.load())
        # The worker has its own client: its requests run on its own thread, for minutes.
        client = CoreClient(record, settings.request_timeout, settings.language)
        self.runner = runner or JobRunner(
            client,
            writer,
            settings.work_dir,
            HeldJob(settings.held_job_file),
            timing=Timing(
                settings.poll_seconds,
                settings.heartbeat_seconds,
                settings.burn_attempts,
                settings.desk_wait_seconds,
            ),
            medium=settings.medium,
        )
        self.worker = Worker(self.runner, settings.claim_seconds)
        self.app = kiosk.KioskApp(
            idle_seconds=settings.idle_seconds, show_seconds=settings.show_seconds
        )
        self.targets: list[ui.Target] = []

    def start(self) -> None:
        super().start()
        self.worker.start()

    def stop(self) -> None:
        super().stop()
        self.worker.stop()
        self.scanner.source.close()

    def handle(self, event: kiosk.Event) -> None:
        self._do(self.app.handle(event))

    def tap(self, position: tuple[int, int]) -> None:
        target = ui.hit(self.targets, position)
        if target is not None:
            self.handle(kiosk.Touched(target.target))

    def draw(self) -> None:
        self.targets = ui.draw(
            self.canvas, self.app, self.text, self.second, self.hospital, self.logo
        )

    def status(self) -> str:
        writer = "ok" if self.app.writer_ok else ",".join(self.app.writer_problems) or "not ok"
        job = f"job {self.app.job_id} {self.app.job_state}" if self.app.job_id else "no job"
        online = "online" if self.app.online else "offline"
        return f"{online}, writer {writer}, {self.app.screen}, {job}"

    def poll(self) -> None:
        while not self.worker.events.empty():
            self.handle(self.worker.events.get_nowait())
        codes, change = self.scanner.poll()
        if change is False:
            log.warning("the scanner went away")
        for code in codes:
            self.handle(kiosk.Scanned(code))

    def translate(self, event: link.LinkEvent) -> kiosk.Event | None:
        if isinstance(event, link.Online):
            if event.online:
                self.link.submit("me", getter("/api/queueing/devices/me"))
            return event
        if not isinstance(event, link.Answer):
            return None
        if event.tag == "me":
            self._identified(event)
            return None
        if event.tag == "logo":
            self.logo = load_image(self.logo_cache.update(event.value, event.error))
            self._dirty = True
            return None
        kind, _, key = event.tag.partition(":")
        if kind not in ("identify", "queue"):
            if event.error is not None:
                log.warning("%s failed: %s", event.tag, event.error)
            return None
        if isinstance(event.error, CoreRefused):
            return kiosk.Refused(key, event.error.code, event.error.message)
        if event.error is not None:
            log.error("%s: the core did not answer: %s", event.tag, event.error)
            return kiosk.Unreachable(key)
        value: dict[str, Any] = event.value or {}
        if kind == "identify":
            return kiosk.Identified(key, value.get("patient") or {}, list(value.get("exams") or []))
        return kiosk.JobQueued(key, value)

    def _identified(self, answer: link.Answer) -> None:
        if answer.error is not None:
            log.warning("could not ask the core for the hospital's name: %s", answer.error)
            return
        hospital = (answer.value or {}).get("hospital") or {}
        if hospital.get("name"):
            self.hospital = hospital["name"]
            self._dirty = True
        if hospital.get("logo_url"):
            self.link.submit("logo", fetch_logo)

    def _do(self, actions: Sequence[kiosk.Action]) -> None:
        for action in actions:
            if isinstance(action, kiosk.Identify):
                call = _post("/api/discs/identify", action.body)
                self.link.submit(f"identify:{action.key}", call)
            elif isinstance(action, kiosk.QueueJob):
                # device None: the core names this kiosk, the one that asked.
                job = {"exam_ids": list(action.exam_ids), "copies": action.copies, "device": None}
                self.link.submit(f"queue:{action.key}", _post("/api/discs", job, action.key))
            elif isinstance(action, kiosk.CancelJob):
                self.worker.cancel(action.job_id)
                call = _post(f"/api/discs/{action.job_id}/cancel", {})
                self.link.submit(f"cancel:{action.job_id}", call)
            self._dirty = True


def _post(path: str, body: dict[str, Any], key: str | None = None) -> Callable[[CoreClient], Any]:
    return lambda client: client.request("POST", path, body, idempotency_key=key)


def check(settings: Settings) -> list[Availability]:
    """The screen, the writer, the reader and the core, each with what it is missing."""
    return [
        screen_needs(settings),
        wiring.writer_for(settings).is_available(),
        wiring.scanner_for(settings).is_available(),
        core_needs(settings),
    ]


def core_needs(settings: Settings) -> Availability:
    needs = Needs("core").file(settings.enrolment_file, "enrolment (kiosk-burner enrol)")
    result = needs.result()
    if not result.ok:
        return result
    try:
        record = enrolment.load(settings.enrolment_file, settings.program)
        client = CoreClient(record, settings.request_timeout, settings.language)
        try:
            client.get("/api/queueing/devices/me")
        finally:
            client.close()
    except Exception as error:  # unreachable, refused key, bad file: all say "core missing"
        return Availability("core", (f"answer from the core ({error})",), ("the core's answer",))
    return Availability("core", (), (f"core {record.core_url}",))


def run(settings: Settings, args: argparse.Namespace) -> int:
    record = enrol_screen.obtain(settings)  # by code when only core_url is set
    writer, scanner = wiring.writer_for(settings), wiring.scanner_for(settings)
    for availability in (writer.is_available(), scanner.is_available()):
        if not availability.ok:
            log.error("%s", availability.message())

    def tapped(program: KioskBurnerProgram, event: pygame.event.Event) -> None:
        # SDL turns a tap on a touchscreen into a mouse click too: one handler.
        if event.type == pygame.MOUSEBUTTONDOWN:
            program.tap(event.pos)

    return run_window(
        settings,
        lambda canvas: KioskBurnerProgram(settings, record, writer, scanner, canvas),
        tapped,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "make-iso":
        from kiosk_burner import make_iso

        return make_iso.main(args[1:])
    return cli.main(Settings, run, check, args)


if __name__ == "__main__":
    raise SystemExit(main())
