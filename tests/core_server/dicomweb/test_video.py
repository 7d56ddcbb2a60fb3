"""DICOMweb for a video object (Video Endoscopic Image, H.264 in one fragment): the rendered
resource is the MP4 itself, whole or by byte range; the metadata names its transfer syntax
(what OHIF's dicom-video extension looks for); frames and thumbnails are refused cleanly."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from capture_station.contract import Frame
from capture_station.media.clip import FREE_BOX, H264_HIGH_41, ClipRecorder, clip_dataset
from core_server.archive import Origin
from tests.capture_station.media_data import capture, pattern, station
from tests.conftest import RunningCore


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str, bytes]]:
    folder = tmp_path_factory.mktemp("video")
    core = RunningCore(folder / "data").start()
    try:
        recorder = ClipRecorder(folder / "clip.mp4", 160, 120, 25)
        base = pattern(160, 120).pixels
        for index in range(20):
            recorder.add(Frame(np.roll(base, index, axis=1), 0.0, index))
        recorder.finish()
        clip = capture("clip", 160, 120)
        ds = clip_dataset(folder / "clip.mp4", clip, station())
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        core.core.archive.store_instance(buffer.getvalue(), Origin("test"))
        uid = clip.exam.study_instance_uid
        url = f"/dicom-web/studies/{uid}/series/{clip.series_instance_uid}/instances/"
        url += clip.sop_instance_uid
        mp4 = Path(folder / "clip.mp4").read_bytes()
        if len(mp4) % 2:
            mp4 += FREE_BOX
        with core.api() as api:
            yield api, url, mp4
    finally:
        core.stop()


def test_rendered_is_the_mp4(stored):
    api, url, mp4 = stored
    answer = api.get(url + "/rendered", headers={"Accept": "*/*"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.content == mp4


def test_rendered_by_range(stored):
    api, url, mp4 = stored
    part = api.get(url + "/rendered", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == mp4[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(mp4)}"
    rest = api.get(url + "/rendered", headers={"Range": "bytes=100-"})
    assert rest.status_code == 206 and rest.content == mp4[100:]
    tail = api.get(url + "/rendered", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == mp4[-10:]
    past = api.get(url + "/rendered", headers={"Range": f"bytes={len(mp4)}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(mp4)}"


def test_rendered_as_an_image_is_not_acceptable(stored):
    api, url, _ = stored
    assert api.get(url + "/rendered", headers={"Accept": "image/jpeg"}).status_code == 406


def test_frames_and_thumbnails_refused_not_failed(stored):
    api, url, _ = stored
    assert api.get(url + "/frames/1").status_code == 404
    assert api.get(url + "/frames/1/rendered").status_code == 404
    assert api.get(url + "/thumbnail").status_code == 404


def test_metadata_names_the_video_syntax(stored):
    api, url, _ = stored
    (instance,) = api.get(url + "/metadata").json()
    assert instance["00083002"] == {"vr": "UI", "Value": [H264_HIGH_41]}
    assert instance["00280008"]["Value"] == [20]  # Number of Frames
