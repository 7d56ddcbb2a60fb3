"""From "burn" to ISO ready (issue 12): ``build_discs`` for a 500-image CT (512 x 512, 16 bit,
about 260 MB) from a folder source: fetch, DICOMDIR, previews, pages, ISO 9660 + Joliet by
pycdlib, sha256. Goal: under 10 s on this machine; the kiosk's RSS under 150 MB.

``--kiosk``: the same CT as a real job: a core in this process (SQLite), the exam signed, the
kiosk its own process (``python -m kiosk_burner run``, ISO-only writer, SDL dummy video); the
time from the job queued to done, and the kiosk's peak RSS (VmHWM of /proc/<pid>/status,
read while it runs; goal 150 MB).

    .venv/bin/python -m bench.kiosk_bench --images 500
    .venv/bin/python -m bench.kiosk_bench --images 500 --kiosk
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


def vm_hwm_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def kiosk_job(images: int, tmp: Path) -> dict[str, float]:
    """A real disc job of a CT of ``images`` images through the kiosk as its own process."""
    from core_server.archive import Origin
    from tests.conftest import RunningCore
    from tests.core_server.discs.conftest import desk_on
    from tests.core_server.reporting.output_data import signed_report
    from tests.dicom_data import encode
    from tests.e2e.test_disc_kiosk_crash import Kiosk

    core = RunningCore(tmp / "core").start()
    kiosk = None
    try:
        desk = desk_on(core)
        signed = signed_report(core, "P-BENCH", name="张^三", images=0, key_image=False)
        exam = signed.exam
        series = [generate_uid() for _ in range(3)]
        for n in range(images):
            ds = make_ct(
                patient_id="P-BENCH",
                patient_name=core.core.ris.patient("P-BENCH").dicom_name,
                study_uid=exam.study_instance_uid,
                series_uid=series[n % 3],
                accession=exam.accession_number,
                instance_number=n // 3 + 1,
                size=512,
                charset="ISO_IR 192",
            )
            core.core.archive.store_instance(encode(ds), Origin("bench"))
        key = desk.admin.post("/api/queueing/devices", json={"name": "kiosk-b", "kind": "kiosk"})
        kiosk = Kiosk(tmp / "kiosk", core.base_url, key.json()["key"], poll=0.2)
        kiosk.enrol()
        kiosk.start()
        assert kiosk.process is not None
        time.sleep(3)  # the program is up and idle
        idle = vm_hwm_mb(kiosk.process.pid)
        desk.registrar.timeout = 60
        started = time.perf_counter()
        job = desk.registrar.post("/api/discs", json={"exam_ids": [exam.id], "device": "kiosk-b"})
        job.raise_for_status()
        peak, state = idle, ""
        while state not in ("done", "failed") and time.perf_counter() - started < 600:
            peak = max(peak, vm_hwm_mb(kiosk.process.pid))
            state = desk.registrar.get(f"/api/discs/{job.json()['id']}").json()["state"]
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        peak = max(peak, vm_hwm_mb(kiosk.process.pid))
        assert state == "done", kiosk.log()
        return {"seconds": round(seconds, 2), "idle_mb": round(idle, 1), "rss_mb": round(peak, 1)}
    finally:
        if kiosk is not None:
            kiosk.stop()
        core.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--kiosk", action="store_true", help="a real job through the kiosk")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.kiosk:
        with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
            found = kiosk_job(args.images, Path(tmp))
        print(
            f"{args.images} CT images through the kiosk process: queued to done in "
            f"{found['seconds']} s; kiosk VmHWM {found['rss_mb']} MB (idle {found['idle_mb']} MB)"
        )
        return
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
