"""The grabber's thread (the newest frame for the preview, the stills and the live feed; every
frame for a clip being recorded) and the DICOM object builder the sender uses."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydicom import Dataset

from capture_station.contract import Capture, Frame, StationIdentity, VideoSource


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

    def record_into(self, recorder: Any) -> Any:
        """Swap the clip recorder (None: stop), returning the previous one. Under the lock
        the grabber thread adds frames with, so no frame is being encoded into the old one
        when it is handed back to be finished (a ``finish`` during an ``add`` hung libx264)."""
        with self._changed:
            previous, self.recorder = self.recorder, recorder
        return previous

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
