"""A small real ISO and a label for the writers' tests."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kiosk_burner.contract import DiscImage, Label, WriterProgress

LABEL = Label(
    hospital_name="北京协和医院放射科",
    patient_name="王建国",
    exam_lines=("2026-12-07 胸部CT平扫", "2026-12-01 头颅MR增强"),
    disc_number=1,
    discs=2,
    qr_url="https://pacs.example.cn/film/7f3a9c?t=eyJleHAiOjE3OTk5OTk5OTl9.c2ln",
)


def make_disc(folder: Path) -> DiscImage:
    content = folder / "content"
    (content / "DICOM").mkdir(parents=True)
    (content / "README.TXT").write_text("王建国 disc\n", encoding="utf-8")
    (content / "DICOM" / "I0000001").write_bytes(bytes(range(256)) * 400)
    iso = folder / "disc.iso"
    subprocess.run(
        ["xorriso", "-outdev", f"stdio:{iso}", "-map", str(content), "/", "-commit"],
        check=True,
        capture_output=True,
    )
    data = iso.read_bytes()
    return DiscImage(1, 2, "CD", iso, len(data), hashlib.sha256(data).hexdigest(), ("A1",))


T = TypeVar("T")


def wait_for(progress: Callable[[], T], done: Callable[[T], bool], timeout: float = 15) -> T:
    deadline = time.monotonic() + timeout
    seen = progress()
    while not done(seen):
        if time.monotonic() > deadline:
            raise AssertionError(f"still {seen} after {timeout} s")
        time.sleep(0.02)
        seen = progress()
    return seen


def final(p: WriterProgress) -> bool:
    return p.state in ("done", "failed", "cancelled")
