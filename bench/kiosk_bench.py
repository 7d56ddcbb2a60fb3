"""From "burn" to ISO ready (issue 12): ``build_discs`` for a 500-image CT (512 x 512, 16 bit,
about 260 MB) from a folder source: fetch, DICOMDIR, previews, pages, ISO 9660 + Joliet by
pycdlib, sha256. Goal: under 10 s on this machine; the kiosk's RSS under 150 MB.

    .venv/bin/python -m bench.kiosk_bench --images 500
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydicom.uid import generate_uid

from kiosk_burner.contract import DiscExam, Manifest
from kiosk_burner.media import FolderInstanceSource, build_discs
from tests.dicom_data import make_ct, write


def make_ct_study(folder: Path, images: int, series: int = 3) -> str:
    study = generate_uid()
    series_uids = [generate_uid() for _ in range(series)]
    for n in range(images):
        ds = make_ct(
            study_uid=study,
            series_uid=series_uids[n % series],
            instance_number=n // series + 1,
            size=512,
            WindowCenter=40,
            WindowWidth=400,
        )
        ds.SeriesNumber = n % series + 1
        write(ds, folder)
    return study


def measure(folder: Path, study: str, images: int, work: Path) -> dict[str, float]:
    manifest = Manifest(
        7,
        1,
        "市第一人民医院",
        "P001",
        "张三",
        "ZHANG SAN",
        "1980-01-01",
        "M",
        (DiscExam(1, "A001", (study,), "胸部CT平扫", "CT", "2026-12-07", images),),
        "https://pacs.example/c/x",
    )
    started = time.perf_counter()
    [disc] = build_discs(manifest, FolderInstanceSource(folder), work)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "iso_mb": round(disc.size_bytes / 1e6, 1),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # the build alone in a fresh process, so its RSS is the kiosk's
        folder, study, work = args.child
        print(json.dumps(measure(Path(folder), study, args.images, Path(work))))
        return
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        folder = Path(tmp) / "archive"
        study = make_ct_study(folder, args.images)
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        answer = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.kiosk_bench",
                "--images",
                str(args.images),
                "--child",
                str(folder),
                study,
                str(Path(tmp) / "work"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(answer.stdout)
        print(
            f"{args.images} CT images, {size:.0f} MB: ISO {result['iso_mb']} MB in "
            f"{result['seconds']} s, peak RSS {result['rss_mb']} MB"
        )


if __name__ == "__main__":
    main()
