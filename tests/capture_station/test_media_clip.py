"""Clips: the MP4 the recorder writes (H.264 High, yuv420p, the level that fits), decoded back
with PyAV, and the DICOM video objects (transfer syntax from the stream) checked by dciodvfy."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.encaps import generate_frames

from capture_station.contract import Frame
from capture_station.media.clip import (
    FREE_BOX,
    H264_HIGH_41,
    H264_HIGH_42_2D,
    ULTRASOUND_MULTIFRAME,
    VIDEO_ENDOSCOPIC,
    VIDEO_PHOTOGRAPHIC,
    ClipError,
    ClipRecorder,
    Stream,
    clip_dataset,
    level_for,
    stream_of,
    transfer_syntax_for,
)
from tests.capture_station.media_data import (
    EXAM,
    capture,
    dciodvfy,
    dcmdump,
    pattern,
    psnr,
    station,
)


def record(path: Path, frames: int, width: int = 320, height: int = 240, fps: float = 25):
    recorder = ClipRecorder(path, width, height, fps, max_seconds=60)
    base = pattern(width, height).pixels
    for i in range(frames):
        assert recorder.add(Frame(np.roll(base, i * 4, axis=1), 0.0, i))
    return recorder.finish(), base


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, object, np.ndarray]:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    info, base = record(path, 50)
    return path, info, base


def test_recorder_writes_a_whole_high_profile_mp4(clip):
    path, info, base = clip
    assert info.frames == 50 and info.duration == pytest.approx(2.0)
    assert info.profile == "High" and info.level == pytest.approx(3.0)
    assert info.path == path and not path.with_name("clip.mp4.part").exists()
    frames = decode(path)
    assert len(frames) == 50 and frames[0].shape == (240, 320, 3)
    assert psnr(frames[0], base) > 25
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.codec_context.pix_fmt == "yuv420p"
        assert float(video.average_rate) == pytest.approx(25)
        assert float(container.duration / av.time_base) == pytest.approx(2.0, abs=0.05)
    head = path.read_bytes()[:4096]
    assert head.index(b"moov") < head.index(b"mdat") if b"mdat" in head else b"moov" in head


def test_recorder_stops_at_max_seconds(tmp_path):
    recorder = ClipRecorder(tmp_path / "short.mp4", 160, 120, 10, max_seconds=0.5)
    frame = Frame(np.zeros((120, 160, 3), np.uint8), 0.0)
    taken = [recorder.add(frame) for _ in range(8)]
    assert taken == [True] * 5 + [False] * 3 and recorder.full
    assert recorder.finish().frames == 5


def test_recorder_refuses_wrong_sizes(tmp_path):
    with pytest.raises(ClipError):
        ClipRecorder(tmp_path / "odd.mp4", 321, 240, 25)
    recorder = ClipRecorder(tmp_path / "a.mp4", 160, 120, 25)
    with pytest.raises(ClipError):
        recorder.add(np.zeros((240, 320, 3), np.uint8))
    recorder.abort()
    assert not list(tmp_path.iterdir())


def test_levels_and_syntaxes():
    assert level_for(720, 576, 25) == 30
    assert level_for(768, 576, 25) == 31  # 1728 macroblocks: over level 3.0's 1620
    assert level_for(1280, 720, 30) == 31
    assert level_for(1920, 1080, 30) == 40
    assert level_for(1920, 1080, 60) == 42
    with pytest.raises(ClipError):
        level_for(3840, 2160, 30)
    assert transfer_syntax_for(Stream(100, 41, 1920, 1080, 1, 25)) == H264_HIGH_41
    assert transfer_syntax_for(Stream(100, 42, 1920, 1080, 1, 60)) == H264_HIGH_42_2D
    with pytest.raises(ClipError):
        transfer_syntax_for(Stream(100, 51, 3840, 2160, 1, 30))


def test_1080p60_is_level_42_and_its_syntax(tmp_path):
    info, _ = record(tmp_path / "hd.mp4", 3, 1920, 1080, 60)
    stream = stream_of(info.path)
    assert (stream.profile_idc, stream.level_idc) == (100, 42)
    assert transfer_syntax_for(stream) == H264_HIGH_42_2D


@pytest.mark.parametrize(
    ("department", "sop_class"),
    [
        ("endoscopy", VIDEO_ENDOSCOPIC),
        ("photo", VIDEO_PHOTOGRAPHIC),
        ("ultrasound", ULTRASOUND_MULTIFRAME),
    ],
)
def test_clip_object_passes_dciodvfy_and_decodes_back(clip, tmp_path, department, sop_class):
    mp4, info, _ = clip
    taken = capture("clip")
    ds = clip_dataset(mp4, taken, station(department))
    path = tmp_path / "clip.dcm"
    ds.save_as(path, enforce_file_format=True)
    errors, warnings = dciodvfy(path)
    assert errors == []
    expected = (
        [
            "Warning - Unrecognized defined term <YBR_PARTIAL_420> for value 1 of attribute "
            "<Photometric Interpretation>"
        ]
        if department == "ultrasound"
        else []
    )
    assert warnings == expected
    back = dcmread(path)
    assert back.SOPClassUID == sop_class
    assert back.file_meta.TransferSyntaxUID == H264_HIGH_41
    assert back.NumberOfFrames == 50 and back.FrameTime == "40.0000" and back.CineRate == 25
    assert (back.Rows, back.Columns) == (240, 320)
    assert back.StudyInstanceUID == EXAM.study_instance_uid
    assert back.SOPInstanceUID == taken.sop_instance_uid
    assert back.PatientName.ideographic == "王^建国"
    if department != "ultrasound":
        assert back.AnatomicRegionSequence[0].CodeValue == "69695003"  # stomach
    # One fragment, the whole MP4: PyAV plays it as it comes out of the object.
    fragments = list(generate_frames(back.PixelData, number_of_frames=1))
    whole = mp4.read_bytes()
    assert len(fragments) == 1 and fragments[0] in (whole, whole + FREE_BOX)
    out = tmp_path / "out.mp4"
    out.write_bytes(fragments[0])
    frames = decode(out)
    assert len(frames) == info.frames and frames[0].shape == (240, 320, 3)
    assert "MPEG-4 AVC/H.264 High Profile" in dcmdump(path)
