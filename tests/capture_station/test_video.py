"""Video sources over PyAV: the test pattern, a file (looped, removed and put back), a FIFO
whose writer stops and comes back, and the ``--video-source`` spec."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from capture_station.hardware.video import (
    FileSource,
    TestSource,
    V4l2Source,
    make_video_source,
)


def write_clip(path: Path, frames: int = 10, size: tuple[int, int] = (160, 120), fmt: str = "mp4"):
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream("libx264" if fmt == "mp4" else "mpeg1video", rate=25)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            pixels = np.full((size[1], size[0], 3), (i * 20) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def frames_within(source, seconds: float) -> list:
    got, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        frame = source.read(0.2)
        if frame is not None:
            got.append(frame)
    return got


def wait_for(condition, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_test_pattern_gives_newest_frames_at_its_size():
    source = TestSource((320, 240), 25)
    source.open()
    try:
        frames = frames_within(source, 0.6)
    finally:
        source.close()
    assert frames and frames[0].size == (320, 240)
    assert frames[0].pixels.dtype == np.uint8 and frames[0].pixels.shape == (240, 320, 3)
    indexes = [f.index for f in frames]
    assert indexes == sorted(set(indexes))  # never the same frame twice, never backwards
    assert source.availability().ok


def test_reader_keeps_only_the_newest_frame():
    source = TestSource((160, 120), 25)
    source.open()
    try:
        first = source.read(2.0)
        assert first is not None
        assert wait_for(
            lambda: source._latest is not None and source._latest.index >= first.index + 5
        )
        later = source.read(1.0)  # a slow reader skips what it missed: no backlog
    finally:
        source.close()
    assert later is not None and later.index >= first.index + 5


def test_file_removed_is_no_signal_and_put_back_resumes(tmp_path):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, frames=8)
    kept = tmp_path / "kept.mp4"
    shutil.copy(clip, kept)
    source = FileSource(clip, loop=True)
    source.backoff_max = 0.2
    source.open()
    try:
        assert source.read(3.0) is not None
        assert source.fps == pytest.approx(25)
        clip.unlink()
        assert wait_for(lambda: not source.signal)  # the open file ends, the reopen fails
        assert source.read(0.3) is None
        reopens = source.reopens
        shutil.copy(kept, clip)
        assert wait_for(lambda: source.signal)
        assert source.read(2.0) is not None
        assert source.reopens > reopens
    finally:
        source.close()


def test_file_without_loop_ends_in_no_signal(tmp_path):
    clip = tmp_path / "once.mp4"
    write_clip(clip, frames=5)
    source = FileSource(clip, loop=False)
    source.open()
    try:
        frames = frames_within(source, 1.0)
        assert 1 <= len(frames) <= 5
        assert not source.signal and source.read(0.2) is None
    finally:
        source.close()


def test_garbage_file_is_no_signal_not_a_crash(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    source = FileSource(bad, fps=25)
    source.backoff_max = 0.1
    source.open()
    try:
        assert source.read(0.5) is None
        assert wait_for(lambda: source.reopens >= 2)
        assert source._thread is not None and source._thread.is_alive()
    finally:
        source.close()


def _feed_fifo(fifo: Path, data: bytes) -> None:
    with open(fifo, "wb") as writer:
        writer.write(data)


def test_fifo_writer_stops_then_comes_back(tmp_path):
    # A grabber's stream stands in: MPEG-1 elementary stream through a FIFO; its writer stops
    # (no signal), then a new writer sends again (capture resumes).
    stream = tmp_path / "stream.mpg"
    write_clip(stream, frames=12, fmt="mpeg1video")
    data = stream.read_bytes()
    fifo = tmp_path / "grabber.fifo"
    os.mkfifo(fifo)
    source = FileSource(fifo, loop=False, fps=25)
    source.backoff_max = 0.2
    source.open()
    try:
        writer = threading.Thread(target=_feed_fifo, args=(fifo, data))
        writer.start()
        assert source.read(5.0) is not None
        writer.join()
        assert wait_for(lambda: not source.signal)
        assert source.read(0.2) is None
        writer = threading.Thread(target=_feed_fifo, args=(fifo, data))
        writer.start()
        assert wait_for(lambda: source.signal)
        assert source.read(2.0) is not None
        writer.join()
    finally:
        source.close()


def test_video_source_spec():
    test = make_video_source("testsrc")
    assert isinstance(test, TestSource) and test.size == (768, 576) and test.fps == 25
    sized = make_video_source("testsrc:1280x720@30")
    assert isinstance(sized, TestSource) and sized.size == (1280, 720) and sized.fps == 30
    grabber = make_video_source("/dev/video7", standard="pal", input_format="yuyv422")
    assert isinstance(grabber, V4l2Source)
    assert grabber.options() == {
        "framerate": "25",
        "video_size": "768x576",
        "standard": "PAL",
        "input_format": "yuyv422",
    }
    assert isinstance(make_video_source("/tmp/some.mp4"), FileSource)
    with pytest.raises(ValueError):
        make_video_source("  ")


def test_missing_grabber_is_a_message_and_no_signal():
    grabber = V4l2Source("/dev/video-not-here", fps=25)
    availability = grabber.availability()
    assert not availability.ok
    assert "/dev/video-not-here" in availability.message()
    assert "video group" in availability.message()
    grabber.backoff_max = 0.1
    grabber.open()
    try:
        assert grabber.read(0.3) is None
        assert wait_for(lambda: grabber.reopens >= 1)
    finally:
        grabber.close()
