"""Video sources over PyAV (FFmpeg): a V4L2 grabber, a file, a ``lavfi`` test pattern.

Each source runs one reader thread that decodes continuously and keeps only the newest frame,
so the preview shows what the camera sees now rather than a queue of old frames (glass
latency). A lost signal (device unplugged, file gone, decode error, a file that ended without
``loop``) makes ``read`` answer ``None``; the thread reopens the input with a growing pause and
capture resumes by itself when the signal is back.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

from capture_station.contract import Frame
from device_kit.drivers import Availability, Needs

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.1  # seconds before the first reopen
BACKOFF_MAX = 2.0  # the pause between reopens never grows past this


class _ReaderSource:
    """The shared machinery: a reader thread, the newest frame, no-signal and reopen."""

    name: str = "video"
    paced = False  # a file or test pattern decodes faster than real time: sleep to its rate

    def __init__(self, fps: float) -> None:
        self._fps = float(fps)
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._returned = -1  # index of the last frame read() handed out
        self._count = 0
        self._signal = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.backoff_first = BACKOFF_FIRST
        self.backoff_max = BACKOFF_MAX
        self.reopens = 0  # how many times the input was opened again after a loss

    # --- what subclasses say -------------------------------------------------------------
    def _open_container(self) -> Any:
        raise NotImplementedError

    def _ended(self) -> bool | None:
        """The input ended normally: True to reopen (loop) at once, False for no signal (and
        reopen with back-off), None for finished (no signal until closed)."""
        return False

    # --- the VideoSource interface --------------------------------------------------------
    @property
    def fps(self) -> float:
        return self._fps

    @property
    def signal(self) -> bool:
        """Whether frames are arriving now (False: show "no signal")."""
        return self._signal

    def open(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"video:{self.name}", daemon=True)
        self._thread.start()

    def read(self, timeout: float = 0.5) -> Frame | None:
        """The newest frame not handed out yet, waiting up to ``timeout``; None: no signal."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                frame = self._latest
                if frame is not None and frame.index != self._returned and self._signal:
                    self._returned = frame.index
                    return frame
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # --- the reader thread -----------------------------------------------------------------
    def _run(self) -> None:
        pause = self.backoff_first
        while not self._stop.is_set():
            try:
                got = self._read_container()
            except (av.FFmpegError, OSError, ValueError) as error:
                log.info("video %s: no signal (%s)", self.name, error)
                got = 0
            ended = self._ended() if got else False
            if ended:
                pause = self.backoff_first
                continue  # a looping file: open it again at once
            self._set_signal(False)
            if ended is None:
                break  # a file played once has ended: nothing comes back
            if got:
                pause = self.backoff_first
            if self._stop.wait(pause):
                break
            pause = min(pause * 2, self.backoff_max)
            self.reopens += 1

    def _read_container(self) -> int:
        """Decode until the input ends or fails; the number of frames it gave."""
        container = self._open_container()
        got = 0
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start: float | None = None
            first_pts: float | None = None
            for decoded in container.decode(stream):
                if self._stop.is_set():
                    break
                if self.paced and decoded.time is not None:
                    if start is None or first_pts is None:
                        start, first_pts = time.monotonic(), float(decoded.time)
                    wait = start + (float(decoded.time) - first_pts) - time.monotonic()
                    if wait > 0 and self._stop.wait(wait):
                        break
                self._publish(decoded.to_ndarray(format="rgb24"))
                got += 1
        finally:
            container.close()
        return got

    def _publish(self, pixels: np.ndarray) -> None:
        with self._cond:
            self._latest = Frame(pixels, time.monotonic(), self._count)
            self._count += 1
            self._signal = True
            self._cond.notify_all()

    def _set_signal(self, value: bool) -> None:
        with self._cond:
            self._signal = value
            self._cond.notify_all()


class V4l2Source(_ReaderSource):
    """A V4L2 grabber (USB UVC, composite/S-Video/HDMI card). ``standard`` PAL or NTSC for
    analogue inputs; ``input_format`` e.g. ``mjpeg`` or ``yuyv422`` (the card's own)."""

    def __init__(
        self,
        device: str,
        size: tuple[int, int] | None = (768, 576),
        fps: float = 25.0,
        standard: str | None = None,
        input_format: str | None = None,
    ) -> None:
        super().__init__(fps)
        self.device = device
        self.name = device
        self.size = size
        self.standard = standard
        self.input_format = input_format

    def options(self) -> dict[str, str]:
        """The FFmpeg ``video4linux2`` demuxer options this source opens the device with."""
        options = {"framerate": f"{self._fps:g}"}
        if self.size:
            options["video_size"] = f"{self.size[0]}x{self.size[1]}"
        if self.standard:
            options["standard"] = self.standard.upper()
        if self.input_format:
            options["input_format"] = self.input_format
        return options

    def availability(self) -> Availability:
        needs = Needs("V4L2 video grabber").module("av", "av (PyAV)").device(self.device)
        result = needs.result()
        extra = "membership of the video group (the device node's group)"
        missing = result.missing
        if any("no permission" in m for m in missing):
            missing = (*missing, extra)
        return Availability(result.driver, missing, (*result.needs, extra))

    def _open_container(self) -> Any:
        return av.open(self.device, format="video4linux2", options=self.options())


class FileSource(_ReaderSource):
    """A video file played at its own rate; ``loop`` starts it again at its end."""

    paced = True

    def __init__(self, path: str | Path, loop: bool = True, fps: float | None = None) -> None:
        self.path = Path(path)
        super().__init__(fps or _file_rate(self.path) or 25.0)
        self.name = str(self.path)
        self.loop = loop

    def availability(self) -> Availability:
        return Needs("video file").module("av", "av (PyAV)").file(self.path, "video file").result()

    def _open_container(self) -> Any:
        return av.open(str(self.path))

    def _ended(self) -> bool | None:
        if self.loop:
            return True
        # A FIFO (or device) whose writer stopped may start again: reopen it; a regular file
        # played once has simply ended.
        return None if self.path.is_file() else False


class TestSource(_ReaderSource):
    """FFmpeg's ``testsrc2`` pattern (moving, with a frame counter), paced at its rate."""

    paced = True
    __test__ = False  # not a pytest class

    def __init__(self, size: tuple[int, int] = (768, 576), fps: float = 25.0) -> None:
        super().__init__(fps)
        self.size = size
        self.name = f"testsrc:{size[0]}x{size[1]}@{fps:g}"

    def availability(self) -> Availability:
        return Needs("test pattern").module("av", "av (PyAV)").result()

    def _open_container(self) -> Any:
        width, height = self.size
        graph = f"testsrc2=size={width}x{height}:rate={self._fps:g}"
        return av.open(graph, format="lavfi")

    def _ended(self) -> bool | None:
        return True


def _file_rate(path: Path) -> float | None:
    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
            return float(rate) if rate else None
    except (av.FFmpegError, OSError, IndexError):
        return None


_TESTSRC = re.compile(r"^testsrc(?::(\d+)x(\d+)(?:@(\d+(?:\.\d+)?))?)?$")


def make_video_source(
    spec: str,
    *,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    standard: str | None = None,
    input_format: str | None = None,
) -> V4l2Source | FileSource | TestSource:
    """The source the ``--video-source`` option names: a ``/dev/video*`` path, ``testsrc`` /
    ``testsrc:WxH@fps``, or a video file. ``size``/``fps``/``standard``/``input_format`` are the
    grabber's settings (a test pattern takes its own from the spec)."""
    spec = spec.strip()
    match = _TESTSRC.match(spec)
    if match:
        width, height, rate = match.groups()
        test_size = (int(width), int(height)) if width else (size or (768, 576))
        return TestSource(test_size, float(rate) if rate else (fps or 25.0))
    if spec.startswith("/dev/video") or (os.path.exists(spec) and _is_char_device(spec)):
        return V4l2Source(spec, size or (768, 576), fps or 25.0, standard, input_format)
    if not spec:
        raise ValueError("an empty --video-source: give /dev/videoN, a file or testsrc")
    return FileSource(spec, loop=True, fps=fps)


def _is_char_device(path: str) -> bool:
    return stat.S_ISCHR(os.stat(path).st_mode)
