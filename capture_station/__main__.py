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
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pygame
from pydicom import Dataset
from pydicom.uid import generate_uid

from capture_station import app as station_app
from capture_station import mpps, ui, worklist
from capture_station.contract import Capture, Frame, PedalSource, StationIdentity, VideoSource
from capture_station.sender import Peer, Sender
from capture_station.settings import Settings
from capture_station.spool import CaptureSpool, Session
from device_kit import cli, enrolment, link
from device_kit.client import CoreClient
from device_kit.drivers import Availability
from device_kit.events import Tick
from device_kit.program import DeviceProgram, run_window, screen_needs
from device_kit.screen import Canvas
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


class Grabber:
    """Reads the video source on its own thread: the latest frame for the preview and the
    stills, every frame for a clip being recorded."""

    def __init__(self, source: VideoSource) -> None:
        self.source = source
        self.latest: Frame | None = None
        self.recorder: Any = None
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grabber", daemon=True)

    def start(self) -> None:
        self.source.open()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
        self.source.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self.source.read(0.5)
            with self._changed:
                self.latest = frame
                if frame is not None and self.recorder is not None:
                    self.recorder.add(frame)
                self._changed.notify_all()

    def frames(self, count: int, timeout: float = 2.0) -> list[Frame]:
        """The latest frame, then each new one until ``count`` (a burst); fewer on no signal."""
        taken: list[Frame] = []
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(taken) < count and time.monotonic() < deadline:
                frame = self.latest
                if frame is not None and (not taken or frame.index != taken[-1].index):
                    taken.append(frame)
                    continue
                # No frame yet (starting) or a read that timed out: wait for one, up to
                # ``timeout``; a still of no signal is never made.
                self._changed.wait(0.2)
        return taken


def dataset_builder(station: StationIdentity) -> Callable[[Capture, Path], Dataset]:
    def build(capture: Capture, path: Path) -> Dataset:
        if capture.kind == "still":
            from capture_station.media.still import still_dataset

            return still_dataset(path.read_bytes(), capture, station)
        from capture_station.media.clip import clip_dataset  # type: ignore[import-not-found]

        return clip_dataset(path, capture, station)  # type: ignore[no-any-return]

    return build


def identity(settings: Settings) -> StationIdentity:
    return StationIdentity(
        settings.station_name,
        settings.station_ae_title,
        settings.department,
        institution=settings.institution,
    )


def peer(settings: Settings, record: enrolment.Enrolment) -> Peer:
    host = settings.core_host or urlparse(record.core_url).hostname or "127.0.0.1"
    return Peer(host, settings.core_port, settings.core_ae_title, settings.request_timeout)


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
        super().__init__(settings, record, canvas, notifier)
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
        )

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        session = self.session
        captures = self.spool.captures(session.exam.accession_number) if session else []
        self.app.unsent = len(self.spool.unsent())
        self.handle(
            station_app.Restored(
                session.exam if session else None, captures, bool(session and session.step_uid)
            )
        )
        self.grabber.start()
        if self.pedals is not None:
            self.pedals.open()
        self.sender.start()
        super().start()
        self._do(self.app.start())

    def stop(self) -> None:
        super().stop()
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
        self.handle(station_app.Clock(now))
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

    def translate(self, event: link.LinkEvent) -> station_app.Event | None:
        if isinstance(event, link.Pushed):
            kind = str(event.message.get("type") or "")
            if kind.startswith(("ticket.", "room.")):
                self._do([station_app.FetchCalled()])
            return None
        if isinstance(event, link.Answer):
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
        )  # fmt: skip
        self._clip = (capture, path)
        self.grabber.recorder = ClipRecorder(
            path, width, height, self.grabber.source.fps, self.options.clip_max_seconds
        )

    def _stop_clip(self) -> None:
        recorder, self.grabber.recorder = self.grabber.recorder, None
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


def make_sources(settings: Settings) -> tuple[VideoSource, PedalSource | None]:
    from capture_station.hardware.pedal import make_pedal_source
    from capture_station.hardware.video import make_video_source

    video = make_video_source(
        settings.video_source,
        size=settings.video_dimensions,
        fps=settings.video_fps,
        standard=settings.video_standard or None,
    )
    pedals = make_pedal_source(settings.pedal) if settings.pedal else None
    return video, pedals


def check(settings: Settings) -> list[Availability]:
    from capture_station.hardware.pedal import list_input_devices

    video, pedals = make_sources(settings)
    results = [screen_needs(settings), video.availability()]
    if pedals is not None:
        results.append(pedals.availability())
    devices = list_input_devices()
    seen = "; ".join(f"{d.path} {d.name} ({', '.join(d.keys[:6])})" for d in devices) or "none"
    results.append(Availability(f"input devices seen: {seen}"))
    results.append(_reachable(settings))
    return results


def _reachable(settings: Settings) -> Availability:
    """The core's HTTP and a DICOM C-ECHO by the station's AE title."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    try:
        record = enrolment.load(settings.enrolment_file, settings.program)
    except enrolment.NotEnrolled as error:
        return Availability("core", (str(error),), ("enrolment",))
    where = peer(settings, record)
    ae = AE(ae_title=settings.station_ae_title)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.network_timeout = settings.request_timeout
    assoc = ae.associate(where.host, where.port, ae_title=where.ae_title)
    echoed = assoc.is_established and int(assoc.send_c_echo().get("Status", -1)) == 0
    if assoc.is_established:
        assoc.release()
    name = f"core {record.core_url}, DICOM {where.ae_title}@{where.host}:{where.port}"
    return Availability(name, () if echoed else ("C-ECHO answered",), ("C-ECHO",))


def run(settings: Settings, args: argparse.Namespace) -> int:
    settings = overrides(settings, args)
    record = enrolment.load(settings.enrolment_file, settings.program)
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
    return cli.main(Settings, run, check, argv, add_options)


if __name__ == "__main__":
    raise SystemExit(main())
