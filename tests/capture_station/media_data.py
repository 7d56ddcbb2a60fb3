"""Small captures for the media tests: an exam with Chinese names, a station per department,
a frame of the test pattern, and dciodvfy / dcmdump runners."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
from pydicom.uid import generate_uid

from capture_station.contract import (
    Capture,
    CaptureKind,
    Department,
    ExamContext,
    Frame,
    StationIdentity,
)

EXAM = ExamContext(
    accession_number="A20261207001",
    patient_id="P000123",
    patient_name="WANG^JIANGUO=王^建国",
    birth_date="1970-01-02",
    sex="M",
    study_instance_uid="1.2.826.0.1.3680043.8.498.1234567890",
    requested_procedure="胃镜检查",
    referring_physician="LI^SI=李^四",
    body_part="STOMACH",
    modality="ES",
    exam_id=7,
)


def station(department: Department = "endoscopy") -> StationIdentity:
    return StationIdentity(
        station_name="WEIJING1",
        ae_title="WEIJING1",
        department=department,
        operator="ZHANG^SAN=张^三",
        institution="市第一人民医院",
    )


def capture(kind: CaptureKind = "still", width: int = 320, height: int = 240) -> Capture:
    return Capture(
        key="k1",
        kind=kind,
        sop_instance_uid=generate_uid(),
        series_instance_uid=generate_uid(),
        exam=EXAM,
        taken_at="2026-12-07T23:10:05.250000+08:00",  # 15:10:05 UTC
        file="k1.jpg",
        width=width,
        height=height,
        instance_number=3,
        caption="胃窦",
    )


def pattern(width: int = 320, height: int = 240) -> Frame:
    """One frame of FFmpeg's testsrc2 (colour bars, gradients: a fair JPEG test)."""
    with av.open(f"testsrc2=size={width}x{height}:rate=25", format="lavfi") as source:
        for decoded in source.decode(video=0):
            return Frame(decoded.to_ndarray(format="rgb24"), 0.0, 0)
    raise AssertionError("testsrc2 gave no frame")


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    """dciodvfy's errors and warnings for one file."""
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return [x for x in lines if x.startswith("Error")], [
        x for x in lines if x.startswith("Warning")
    ]


def dcmdump(path: Path) -> str:
    run = subprocess.run(["dcmdump", "+U8", str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)
