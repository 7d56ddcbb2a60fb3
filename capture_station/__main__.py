"""The capture station: wiring of the options, the grabber, the pedals, the spool, the sender,
the core link and the pygame screen.

capture-station enrol --core-url URL --key KEY
capture-station [run] [--video-source testsrc] [--pedal events:FIFO] [--state-dir DIR]
capture-station check
capture-station options
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pygame
from pydicom.uid import generate_uid

from capture_station import app as station_app
from capture_station import mpps, scope, ui, worklist
from capture_station.checking import check, make_scanner, make_sources, peer
from capture_station.contract import Capture, Frame, PedalSource, StationIdentity, VideoSource
from capture_station.grabber import Grabber, dataset_builder
from capture_station.live import LiveFeed
from capture_station.sender import Sender
from capture_station.settings import Settings
from capture_station.spool import CaptureSpool, Session
from device_kit import cli, enrol_screen, enrolment, link
from device_kit.client import CoreClient
from device_kit.events import Tick
from device_kit.program import DeviceProgram, PolledInput, run_window
from device_kit.screen import Canvas
from device_kit.spool import Outcome, Spool
from device_kit.systemd import Notifier

log = logging.getLogger("capture_station")
KEYS = {
    pygame.K_SPACE: "still",
    pygame.K_b: "burst",
    pygame.K_t: "timed",
    pygame.K_c: "clip",
    pygame.K_DELETE: "delete",
    pygame.K_UP: "prev",
    pygame.K_DOWN: "next",
    pygame.K_RETURN: "pick",
    pygame.K_e: "emergency",
    pygame.K_F10: "end",
    pygame.K_F11: "discontinue",
    pygame.K_F5: "refresh",
}


def identity(settings: Settings) -> StationIdentity:
    return StationIdentity(
        settings.station_name,
        settings.station_ae_title,
        settings.department,
        institution=settings.institution,
    )


class CaptureProgram(DeviceProgram[station_app.Event]):
    def __init__(
        self,
        settings: Settings,
        record: enrolment.Enrolment,
        canvas: Canvas,
        video: VideoSource,
        pedals: PedalSource | None,
        notifier: Notifier | None = None,
    ) -> None:
        # The device spool holds the scope uses the core has not answered yet (offline).
        super().__init__(settings, record, canvas, notifier, Spool(settings.spool_file))
        self.options = settings
        self.station = identity(settings)
        self.spool = CaptureSpool(settings.captures_dir)
        self.sender = Sender(
            self.spool,
            self.station,
            peer(settings, record),
            dataset_builder(self.station),
            settings.send_min_delay,
            settings.send_max_delay,
        )
        self.grabber = Grabber(video)
        self.pedals = pedals
        scanner = make_scanner(settings)
        self.scanner = PolledInput(scanner) if scanner is not None else None
        self.live = (
            LiveFeed(record.core_url, record.device_key, self._latest, fps=settings.live_fps)
            if settings.live_feed
            else None
        )
        self._pruned = 0.0
        self.thumbnails = ui.Thumbnails(settings.captures_dir)
        self.targets: list[ui.Target] = []
        self.session: Session | None = self.spool.session()
        self._shown_frame = -1
        self._sender_checked = 0.0
        self._clip: tuple[Capture, Path] | None = None
        self.app = station_app.CaptureApp(
            pedal_keys=dict(settings.pedal_keys),
            pedal_long=dict(settings.pedal_long),
            long_press_seconds=settings.long_press_seconds,
            burst_count=settings.burst_count,
            timed_seconds=settings.timed_seconds,
            clip_max_seconds=settings.clip_max_seconds,
            scope=scope.ScopeCheck(
                settings.scope_check and settings.department == "endoscopy",
                settings.scope_wait_seconds,
            ),
        )

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        session = self.session
        captures = self.spool.captures(session.exam.accession_number) if session else []
        self.app.unsent = len(self.spool.unsent())
        use = scope.ScopeUse.from_json(session.scope) if session and session.scope else None
        self.handle(
            station_app.Restored(
                session.exam if session else None,
                captures,
                bool(session and session.step_uid),
                use,
            )
        )
        self._prune()
        self.grabber.start()
        if self.pedals is not None:
            self.pedals.open()
        self.sender.start()
        if self.live is not None:
            self.live.start()
        super().start()
        self._do(self.app.start())

    def stop(self) -> None:
        super().stop()
        if self.live is not None:
            self.live.stop()
        if self.scanner is not None:
            self.scanner.source.close()
        self.sender.stop()
        self.grabber.stop()
        if self.pedals is not None:
            self.pedals.close()

    # -- the main loop's turn --------------------------------------------------------------

    def poll(self) -> None:
        now = time.monotonic()
        if self.pedals is not None:
            for press in self.pedals.poll():
                log.debug("pedal %s %s", press.code, "down" if press.down else "up")
                self.handle(station_app.Pedal(press))
        if self.scanner is not None:
            for code in self.scanner.poll()[0]:
                log.info("scope tag scanned: %s", code)
                self.handle(scope.ScopeScanned(code))
        self.handle(station_app.Clock(now))
        if now - self._pruned > 86400:
            self._prune()
        frame = self.grabber.latest
        index = frame.index if frame is not None else -1
        if index != self._shown_frame:
            self._shown_frame, self._dirty = index, True
        if now - self._sender_checked > 0.25:
            self._sender_checked = now
            state = station_app.SenderState(
                self.sender.online, len(self.spool.unsent()), self.sender.take_sent()
            )
            self.handle(state)

    def handle(self, event: station_app.Event | Tick) -> None:
        if not isinstance(event, Tick):
            self._do(self.app.handle(event))
        elif self.app.exam is None and event.now.second == 0:
            self._do([station_app.FetchWorklist()])  # the minute's refresh

    def press(self, command: str, value: Any = None) -> None:
        self.handle(station_app.Command(command, value))

    def tap(self, position: tuple[int, int]) -> None:
        target = ui.hit(self.targets, position)
        if target is not None:
            self.press(target.command, target.value)

    def draw(self) -> None:
        frame = self.grabber.latest
        pixels = frame.pixels if frame is not None else None
        self.targets = ui.draw(self.canvas, self.app, self.text, pixels, self.thumbnails)

    def status(self) -> str:
        exam = self.app.exam.accession_number if self.app.exam else "no exam"
        state = "online" if self.sender.online else "offline"
        return f"{exam}, {len(self.app.shown_captures)} captures, {self.app.unsent} unsent, {state}"

    def _latest(self) -> Frame | None:
        """The live feed's frame: the preview's own newest one (None: no signal)."""
        return self.grabber.latest

    def _prune(self) -> None:
        self._pruned = time.monotonic()
        keep = self.session.exam.accession_number if self.session else ""
        days = self.options.keep_sent_days
        removed = self.spool.prune(days * 86400, keep=keep)
        if removed:
            log.info("removed %d sent captures older than %g days", removed, days)

    def translate(self, event: link.LinkEvent) -> station_app.Event | None:
        if isinstance(event, link.Settled) and event.result.action.kind == "scope":
            return _scope_answer(event)
        if isinstance(event, link.Pushed):
            kind = str(event.message.get("type") or "")
            if kind.startswith(("ticket.", "room.")):
                self._do([station_app.FetchCalled()])
            return None
        if isinstance(event, link.Answer):
            if event.tag == "scopes":
                if event.error is not None:
                    log.warning("could not fetch the scopes: %s", event.error)
                    return None
                found = event.value.get("scopes", [])
                return scope.ScopesFetched(
                    tuple((str(s["scope"]["code"]), s.get("warning")) for s in found)
                )
            if event.error is not None:
                log.warning("could not fetch the %s: %s", event.tag, event.error)
                return station_app.WorklistFailed(str(event.error))
            if event.tag == "worklist":
                return station_app.WorklistFetched(event.value)
            if event.tag == "called":
                exam_id, accession = event.value
                return station_app.CalledExam(exam_id, accession)
        return None

    # -- actions -------------------------------------------------------------------------

    def _do(self, actions: Sequence[station_app.Action]) -> None:
        for action in actions:
            if isinstance(action, station_app.Redraw):
                self._dirty = True
            elif isinstance(action, station_app.TakeStill):
                self._take(action.count)
            else:
                self._carry_out(action)

    def _carry_out(self, action: station_app.Action) -> None:
        settings = self.options
        match action:
            case station_app.FetchWorklist():
                self.link.submit("worklist", self._fetch_worklist)
            case station_app.FetchCalled():
                room = settings.room
                self.link.submit("called", lambda client: worklist.called_exam(client, room))
            case station_app.BeginExam(exam):
                self.session = Session(exam, generate_uid(), generate_uid())
                self.spool.save_session(self.session)
            case station_app.CreateEmergency():
                exam = worklist.emergency_exam(self.station, datetime.now(settings.zone))
                self._do(self.app.handle(station_app.Picked(exam)))
            case station_app.StartStep(exam):
                self._start_step(exam)
            case station_app.EndStep(exam, status, reason):
                self._end_step(status, reason)
            case station_app.DeleteCapture(key):
                if not self.spool.delete(key):
                    log.warning("capture %s was being sent: kept", key)
            case station_app.StartClip():
                self._start_clip()
            case station_app.StopClip():
                self._stop_clip()
            case scope.FetchScopes():
                self.link.submit("scopes", lambda client: client.get("/api/capture/scopes"))
            case scope.UseScope(exam, code):
                path = f"/api/capture/exams/{exam.exam_id}/scope"
                self.link.spool_action("scope", "POST", path, {"scope": code})
            case scope.RecordScope(exam, use):
                self._record_scope(use)

    def _record_scope(self, use: scope.ScopeUse) -> None:
        """The scope and its state with the exam under way; "continue anyway" with its time."""
        if use.status == "accepted" and not use.accepted_at:
            use.accepted_at = self._now_iso()
            log.warning(
                "scope %s used despite %s: continued anyway at %s",
                use.code, use.warning, use.accepted_at,
            )  # fmt: skip
        if self.session is not None:
            self.session.scope = use.as_json()
            self.spool.save_session(self.session)

    def _fetch_worklist(self, client: CoreClient) -> list[Any]:
        settings = self.options
        day = datetime.now(settings.zone).date()
        if settings.worklist_source == "mwl":
            where = peer(settings, client.enrolment)
            return worklist.fetch_mwl(self.station, where.host, where.port, where.ae_title, day)
        return worklist.fetch_rest(client, settings.room, day)

    def _now_iso(self) -> str:
        return datetime.now(self.options.zone).isoformat(timespec="milliseconds")

    def _take(self, count: int) -> None:
        session = self.session
        if session is None:
            return
        from capture_station.media.still import encode_lossless, encode_still

        frames = self.grabber.frames(count)
        if not frames:
            log.warning("no frame to take: no signal")
            self._do(self.app.handle(station_app.TakeFailed("no_signal")))
            return
        taken = []
        try:
            for frame in frames:
                image = (
                    encode_lossless(frame)
                    if self.options.lossless
                    else encode_still(frame, self.options.jpeg_quality)
                )
                key = self.spool.new_key()
                width, height = frame.size
                capture = Capture(
                    key, "still", generate_uid(), session.still_series, session.exam,
                    self._now_iso(), f"{key}.{'png' if self.options.lossless else 'jpg'}",
                    width, height, self.spool.next_instance(session.still_series),
                    extra={"scope": session.scope} if session.scope else {},
                )  # fmt: skip
                taken.append(self.spool.add_still(capture, image))
        except OSError as error:
            log.error("could not spool a still: %s", error)
            self._do(self.app.handle(station_app.TakeFailed("disk_full")))
        if taken:
            self._do(self.app.handle(station_app.Taken(taken)))
            self.sender.wake()
            log.info("taken %s", " ".join(c.key for c in taken))

    def _start_step(self, exam: Any) -> None:
        step = mpps.new_step(exam, self._now_iso())
        self.spool.save_step(step)
        if self.session is not None:
            self.session.step_uid = step.uid
            self.session.started_at = step.started_at
            self.spool.save_session(self.session)
        self.sender.wake()

    def _end_step(self, status: str, reason: str) -> None:
        session = self.session
        step = self.spool.step(session.step_uid) if session and session.step_uid else None
        if session is None or step is None:
            return
        series: dict[str, list[str]] = {}
        for capture in self.spool.captures(session.exam.accession_number):
            if capture.state != "deleted":
                series.setdefault(capture.series_instance_uid, []).append(capture.sop_instance_uid)
        step.end_status, step.reason, step.ended_at = status, reason, self._now_iso()
        step.series = series
        self.spool.save_step(step)
        self.session = None
        self.spool.save_session(None)
        self.sender.wake()

    def _start_clip(self) -> None:
        session = self.session
        frame = self.grabber.latest
        try:
            from capture_station.media.clip import ClipRecorder
        except ImportError:
            self._do(self.app.handle(station_app.ClipEnded(None)))
            return
        if session is None or frame is None:
            self._do(self.app.handle(station_app.ClipEnded(None)))
            return
        key = self.spool.new_key()
        width, height = frame.size
        path = self.spool.clip_file(key)
        capture = Capture(
            key, "clip", generate_uid(), session.clip_series, session.exam, self._now_iso(),
            "", width, height, self.spool.next_instance(session.clip_series),
            extra={"scope": session.scope} if session.scope else {},
        )  # fmt: skip
        self._clip = (capture, path)
        fps, longest = self.grabber.source.fps, self.options.clip_max_seconds
        self.grabber.record_into(ClipRecorder(path, width, height, fps, longest))

    def _stop_clip(self) -> None:
        recorder = self.grabber.record_into(None)
        clip, self._clip = self._clip, None
        if recorder is None or clip is None:
            self._do(self.app.handle(station_app.ClipEnded(None)))
            return
        capture, path = clip
        info = recorder.finish()
        capture.frames = int(getattr(info, "frames", 0))
        capture.duration = float(getattr(info, "duration", 0.0))
        spooled = self.spool.add_clip(capture, path) if capture.frames else None
        self._do(self.app.handle(station_app.ClipEnded(spooled)))
        self.sender.wake()


def _scope_answer(event: link.Settled) -> scope.ScopeAnswered:
    result = event.result
    code = str(result.action.body.get("scope", ""))
    exam_id = int(result.action.path.split("/")[-2])
    if result.outcome is Outcome.DONE:
        return scope.ScopeAnswered(code, (result.answer or {}).get("warning"), exam_id=exam_id)
    message = (result.answer or {}).get("message") or str(result.answer)
    return scope.ScopeAnswered(code, refused=message, exam_id=exam_id)


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video-source", help="/dev/videoN, a video file, or testsrc[:WxH@fps]")
    parser.add_argument("--pedal", action="append", help="evdev path or events:FILE (repeat)")
    parser.add_argument("--window-size", help="WIDTHxHEIGHT (a window instead of full screen)")


def overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    changes: dict[str, Any] = {}
    if getattr(args, "video_source", None):
        changes["video_source"] = args.video_source
    if getattr(args, "pedal", None):
        changes["pedal"] = list(args.pedal)
    if getattr(args, "window_size", None):
        changes["window_size"], changes["fullscreen"] = args.window_size, False
    return settings.model_copy(update=changes) if changes else settings


def run(settings: Settings, args: argparse.Namespace) -> int:
    settings = overrides(settings, args)
    record = enrol_screen.obtain(settings)  # by code when only core_url is set
    video, pedals = make_sources(settings)

    def on_event(program: CaptureProgram, event: pygame.event.Event) -> None:
        if event.type == pygame.KEYDOWN and event.key in KEYS:
            program.press(KEYS[event.key])
        elif event.type == pygame.MOUSEBUTTONDOWN:  # SDL makes a touch a click too
            program.tap(event.pos)

    return run_window(
        settings, lambda canvas: CaptureProgram(settings, record, canvas, video, pedals), on_event
    )


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(Settings, run, check, argv, add_options, overrides)


if __name__ == "__main__":
    raise SystemExit(main())
