"""A clip: frames encoded to an MP4 (H.264 High profile, yuv420p, libx264 through PyAV) and the
DICOM video object made from it.

The MPEG-4 transfer syntax is read from the encoded stream itself (the ``avcC`` record's
profile and level, PS3.5 8.2.8): High profile at level 4.1 or below is ``.102``; level 4.2
(1080p at 50/60) is ``.104`` (High Profile / Level 4.2 For 2D Video). The whole MP4 (moov box
first, so a browser starts playing before the end has arrived) is the one fragment of Pixel
Data, as dcm4che's ``mp42dcm`` writes it and as a ``<video>`` element plays it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from pydicom import Dataset
from pydicom.encaps import encapsulate

from capture_station.contract import Capture, Department, Frame, StationIdentity
from capture_station.media.common import anatomic_region, base_dataset

VIDEO_ENDOSCOPIC = "1.2.840.10008.5.1.4.1.1.77.1.1.1"
VIDEO_PHOTOGRAPHIC = "1.2.840.10008.5.1.4.1.1.77.1.4.1"
ULTRASOUND_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
CLIP_CLASSES: dict[Department, str] = {
    "endoscopy": VIDEO_ENDOSCOPIC,
    "ultrasound": ULTRASOUND_MULTIFRAME,
    "photo": VIDEO_PHOTOGRAPHIC,
}
H264_HIGH_41 = "1.2.840.10008.1.2.4.102"
H264_BD_41 = "1.2.840.10008.1.2.4.103"
H264_HIGH_42_2D = "1.2.840.10008.1.2.4.104"
H264_HIGH_42_3D = "1.2.840.10008.1.2.4.105"
H264_STEREO_42 = "1.2.840.10008.1.2.4.106"
PROFILES = {
    66: "Baseline",
    77: "Main",
    88: "Extended",
    100: "High",
    110: "High 10",
    128: "Stereo High",
}
# H.264 Table A-1: level -> (max macroblocks per second, max frame size in macroblocks).
LEVELS = {
    30: (40500, 1620),
    31: (108000, 3600),
    32: (216000, 5120),
    40: (245760, 8192),
    41: (245760, 8192),
    42: (522240, 8704),
}


FREE_BOX = b"\x00\x00\x00\x09free\x00"


class ClipError(ValueError):
    """The clip cannot be written or stored as DICOM (too large a size or rate, no stream)."""


@dataclass(frozen=True)
class ClipInfo:
    frames: int
    duration: float  # seconds
    profile: str  # High
    level: float  # 4.1
    path: Path


def level_for(width: int, height: int, fps: float) -> int:
    """The lowest H.264 level (times ten) the size and rate fit, at most 4.2: above it DICOM
    has no H.264 syntax for plain 2D video."""
    blocks = ((width + 15) // 16) * ((height + 15) // 16)
    for level, (per_second, per_frame) in LEVELS.items():
        if blocks <= per_frame and blocks * fps <= per_second:
            return max(level, 30)
    raise ClipError(f"{width}x{height} at {fps:g} fps is above H.264 level 4.2")


class ClipRecorder:
    """Frames in, an MP4 out: written under a temporary name, fsynced, then renamed, so a clip
    on disk under its own name is always whole. ``add`` answers False once ``max_seconds`` is
    reached (the frame is not taken)."""

    def __init__(
        self, path: str | Path, width: int, height: int, fps: float, max_seconds: float = 60.0
    ) -> None:
        if width % 2 or height % 2:
            raise ClipError("yuv420p needs an even width and height")
        self.path = Path(path)
        self.width, self.height, self.fps = width, height, float(fps)
        self.max_frames = max(1, round(max_seconds * self.fps))
        self.level = level_for(width, height, self.fps)
        self._part = self.path.with_name(self.path.name + ".part")
        self._container = av.open(
            str(self._part), "w", format="mp4", options={"movflags": "+faststart"}
        )
        rate = Fraction(self.fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.options = {
            "profile": "high",
            "level": f"{self.level / 10:.1f}",
            "preset": "veryfast",
            "g": str(max(1, round(self.fps))),  # a key frame every second: seeking
        }
        self.frames = 0

    @property
    def full(self) -> bool:
        return self.frames >= self.max_frames

    def add(self, frame: Frame | np.ndarray) -> bool:
        if self.full:
            return False
        pixels = frame.pixels if isinstance(frame, Frame) else frame
        if pixels.shape[:2] != (self.height, self.width):
            raise ClipError(
                f"frame {pixels.shape[1]}x{pixels.shape[0]} in a {self.width}x{self.height} clip"
            )
        video = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
        video.pts = self.frames
        for packet in self._stream.encode(video):
            self._container.mux(packet)
        self.frames += 1
        return True

    def finish(self) -> ClipInfo:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        with open(self._part, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(self._part, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return probe(self.path)

    def abort(self) -> None:
        """Drop a clip that will not be kept (the station closed mid-recording)."""
        try:
            self._container.close()
        finally:
            self._part.unlink(missing_ok=True)


@dataclass(frozen=True)
class Stream:
    profile_idc: int
    level_idc: int
    width: int
    height: int
    frames: int
    fps: float

    @property
    def duration(self) -> float:
        return self.frames / self.fps if self.fps else 0.0


def stream_of(path: str | Path) -> Stream:
    """The H.264 stream's profile and level (from its ``avcC`` record), size, frames, rate."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ClipError(f"{path}: no video stream")
        video = container.streams.video[0]
        if video.codec_context.name != "h264":
            raise ClipError(f"{path}: {video.codec_context.name}, not H.264")
        extradata = video.codec_context.extradata or b""
        if len(extradata) < 4 or extradata[0] != 1:
            raise ClipError(f"{path}: no avcC record")
        frames = video.frames or sum(1 for _ in container.demux(video) if _.size)
        rate = float(video.average_rate or video.guessed_rate or 0)
        return Stream(extradata[1], extradata[3], video.width, video.height, frames, rate)


def probe(path: Path) -> ClipInfo:
    stream = stream_of(path)
    profile = PROFILES.get(stream.profile_idc, str(stream.profile_idc))
    return ClipInfo(stream.frames, stream.duration, profile, stream.level_idc / 10, path)


def transfer_syntax_for(stream: Stream) -> str:
    """PS3.5 8.2.8: the MPEG-4 AVC/H.264 transfer syntax this stream may be sent as."""
    if stream.profile_idc not in (66, 77, 100) and stream.profile_idc != 128:
        raise ClipError(f"H.264 profile {stream.profile_idc} has no DICOM transfer syntax")
    if stream.profile_idc == 128:
        return H264_STEREO_42
    # Constrained Baseline and Main streams are also valid High profile streams' subsets.
    if stream.level_idc <= 41:
        return H264_HIGH_41
    if stream.level_idc == 42:
        return H264_HIGH_42_2D
    raise ClipError(f"H.264 level {stream.level_idc / 10:.1f} has no DICOM transfer syntax")


def clip_dataset(mp4_path: str | Path, capture: Capture, station: StationIdentity) -> Dataset:
    """The clip as Video Endoscopic / Video Photographic Image, or for ultrasound Ultrasound
    Multi-frame Image (the US IOD allows the MPEG-4 syntaxes), in the MPEG-4 transfer syntax
    of its stream."""
    stream = stream_of(mp4_path)
    data = Path(mp4_path).read_bytes()
    if len(data) % 2:
        # DICOM pads odd values with a zero byte; a 9-byte 'free' box instead keeps the
        # fragment a well-formed MP4 to its last byte.
        data += FREE_BOX
    sop_class = CLIP_CLASSES[station.department]
    ds = base_dataset(capture, station, sop_class, transfer_syntax_for(stream))
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_PARTIAL_420"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = stream.height, stream.width
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelRepresentation = 0
    ds.BurnedInAnnotation = "NO"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_14496_10"
    raw = stream.width * stream.height * 3 * max(stream.frames, 1)
    ds.LossyImageCompressionRatio = f"{raw / len(data):.2f}"[:16]
    # Multi-frame and Cine
    ds.NumberOfFrames = stream.frames
    ds.FrameIncrementPointer = 0x00181063  # Frame Time
    ds.FrameTime = f"{1000.0 / stream.fps:.4f}"[:16]
    ds.CineRate = round(stream.fps)
    ds.RecommendedDisplayFrameRate = round(stream.fps)
    ds.StartTrim, ds.StopTrim = 1, stream.frames
    ds.ActualFrameDuration = round(1000.0 / stream.fps)
    ds.PreferredPlaybackSequencing = 0  # looping
    if station.department != "ultrasound":
        ds.AcquisitionContextSequence = []
        ds.AnatomicRegionSequence = anatomic_region(capture.exam.body_part, required=True)
    ds.PixelData = encapsulate([data])
    ds["PixelData"].VR = "OB"
    return ds
