"""Capture station encoding (issue 13): a still (Pillow JPEG baseline 4:2:2, then the DICOM
object written to bytes) at 768x576 and 1920x1080, p50/p95 over many frames of FFmpeg's
testsrc2; and clip encoding (libx264 High through PyAV, preset veryfast) in frames per second
of CPU-bound encoding, so how much headroom the station has over 25/30 fps live.

    .venv/bin/python -m bench.capture_encode
    .venv/bin/python -m bench.capture_encode --stills 200 --clip-frames 250 --json
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from pydicom.uid import generate_uid

from capture_station.contract import Capture, ExamContext, Frame, StationIdentity
from capture_station.media.clip import ClipRecorder
from capture_station.media.still import encode_still, still_dataset

SIZES = ((768, 576), (1920, 1080))
EXAM = ExamContext("A1", "P1", "WANG^JIANGUO=王^建国", study_instance_uid=generate_uid())
STATION = StationIdentity("WEIJING1", "WEIJING1", "endoscopy", "ZHANG^SAN=张^三", "医院")


def frames(width: int, height: int, count: int) -> list[np.ndarray]:
    """``count`` different frames of the moving test pattern."""
    out: list[np.ndarray] = []
    with av.open(f"testsrc2=size={width}x{height}:rate=25", format="lavfi") as source:
        for decoded in source.decode(video=0):
            out.append(decoded.to_ndarray(format="rgb24"))
            if len(out) == count:
                break
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def still_times(size: tuple[int, int], count: int, quality: int) -> dict[str, float]:
    pixels = frames(*size, min(count, 50))
    jpeg_ms: list[float] = []
    total_ms: list[float] = []
    sizes: list[int] = []
    for index in range(count):
        frame = Frame(pixels[index % len(pixels)], time.monotonic(), index)
        start = time.perf_counter()
        jpeg = encode_still(frame, quality)
        encoded = time.perf_counter()
        capture = Capture(
            "k", "still", generate_uid(), generate_uid(), EXAM,
            "2026-12-07T10:00:00+08:00", "k.jpg", size[0], size[1], index + 1,
        )  # fmt: skip
        buffer = io.BytesIO()
        still_dataset(jpeg, capture, STATION).save_as(buffer, enforce_file_format=True)
        done = time.perf_counter()
        jpeg_ms.append((encoded - start) * 1000)
        total_ms.append((done - start) * 1000)
        sizes.append(len(jpeg))
    return {
        "jpeg_p50_ms": round(statistics.median(jpeg_ms), 2),
        "jpeg_p95_ms": round(percentile(jpeg_ms, 95), 2),
        "still_object_p50_ms": round(statistics.median(total_ms), 2),
        "still_object_p95_ms": round(percentile(total_ms, 95), 2),
        "jpeg_kb": round(statistics.median(sizes) / 1024, 1),
    }


def clip_rate(size: tuple[int, int], count: int, folder: Path) -> dict[str, float]:
    pixels = frames(*size, min(count, 50))
    recorder = ClipRecorder(folder / f"clip-{size[0]}.mp4", size[0], size[1], 25, max_seconds=3600)
    start = time.perf_counter()
    cpu = time.process_time()
    for index in range(count):
        recorder.add(Frame(pixels[index % len(pixels)], 0.0, index))
    info = recorder.finish()
    wall = time.perf_counter() - start
    cpu_used = time.process_time() - cpu
    return {
        "frames": info.frames,
        "encode_fps": round(info.frames / wall, 1),
        "cpu_s_per_s_of_video": round(cpu_used / info.duration, 2),
        "level": info.level,
        "mbit_per_s": round(info.path.stat().st_size * 8 / info.duration / 1e6, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stills", type=int, default=100)
    parser.add_argument("--clip-frames", type=int, default=250)
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, dict[str, float]]] = {"still": {}, "clip": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            name = f"{size[0]}x{size[1]}"
            results["still"][name] = still_times(size, args.stills, args.quality)
            results["clip"][name] = clip_rate(size, args.clip_frames, Path(tmp))
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        for kind, by_size in results.items():
            for name, figures in by_size.items():
                print(kind, name, " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
