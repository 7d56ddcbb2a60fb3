"""Storage tiers: recall of a 500-image CT from S3, and migration throughput.

An archive on SQLite in a temporary folder takes ``--images`` CT slices (512x512, 16-bit,
random pixels: about 525 kB each, explicit VR little endian). moto's S3 server runs as its
own process on a free loopback port (a stand-in for MinIO/Ceph: an in-memory store, so the
numbers show our side's cost and the protocol's, not a disk's). Measured:

- copy (migration) throughput in MB/s: ``copies.copy_to`` of every object to S3, one at a time
  and from ``--threads`` threads; to a filesystem area (durable: temporary name, fsync,
  rename, fsync the folder) one at a time and from ``--threads`` threads; against ``cp -r``
  of the same files then one ``sync``;
- recall: every online file dropped, then ``Archive.recall`` of the study (a thread pool of
  ``--workers``) until all are back online, fsynced; then a C-GET-like ``Archive.locate`` of
  the study that finds them online.

    .venv/bin/python -m bench.storage_recall [--images 500] [--workers 16] [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx
import numpy as np
from pydicom.uid import generate_uid

from core_server import db
from core_server.archive import Archive, Origin, copies
from core_server.archive.areas import AreaSpec
from tests.conftest import free_port
from tests.dicom_data import encode, make_ct


def _moto(port: int, log: Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("moto server did not come up")


def _study(archive: Archive, images: int) -> tuple[str, list[str], int]:
    study, series = generate_uid(), generate_uid()
    rng = np.random.default_rng(14)
    uids, total = [], 0
    for n in range(images):
        ds = make_ct(study_uid=study, series_uid=series, instance_number=n + 1, size=512)
        ds.PixelData = rng.integers(-1000, 3000, (512, 512), dtype=np.int16).tobytes()
        data = encode(ds)
        total += len(data)
        uids.append(archive.store_instance(data, Origin("bench", "BENCH")).sop_instance_uid)
    return study, uids, total


def _timed(task: Any) -> float:
    start = time.perf_counter()
    task()
    return time.perf_counter() - start


def _copy_all(archive: Archive, uids: list[str], area: str, threads: int) -> None:
    def one(uid: str) -> None:
        assert copies.copy_to(archive.engine, archive.areas, uid, area).verified

    if threads == 1:
        for uid in uids:
            one(uid)
        return
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, uids))


def run(images: int, workers: int, threads: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="storage-recall-"))
    port = free_port()
    moto = _moto(port, work / "moto.log")
    try:
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        engine = db.make_engine(f"sqlite:///{work}/index.sqlite")
        db.migrate(engine)
        archive = Archive(engine, work / "online")
        start = time.perf_counter()
        study, uids, total = _study(archive, images)
        stored_s = time.perf_counter() - start
        mb = total / 1e6
        results: dict[str, Any] = {"images": images, "megabytes": round(mb, 1)}
        results["store_s"] = round(stored_s, 2)

        for name, bucket in (("s3", "bench-serial"), ("s3par", "bench-parallel")):
            s3.create_bucket(Bucket=bucket)
            spec = AreaSpec(
                name,
                "s3",
                bucket,
                rank=20,
                endpoint_url=endpoint,
                access_key="bench",
                secret_key="bench",
            )
            archive.areas.create(spec)
        (work / "nas").mkdir()
        archive.areas.create(AreaSpec("nas", "filesystem", str(work / "nas"), rank=5))

        seconds = _timed(lambda: _copy_all(archive, uids, "s3", 1))
        results["copy_s3_serial_mb_s"] = round(mb / seconds, 1)
        seconds = _timed(lambda: _copy_all(archive, uids, "s3par", threads))
        results[f"copy_s3_{threads}_threads_mb_s"] = round(mb / seconds, 1)
        seconds = _timed(lambda: _copy_all(archive, uids, "nas", 1))
        results["copy_filesystem_serial_mb_s"] = round(mb / seconds, 1)
        (work / "nas2").mkdir()
        archive.areas.create(AreaSpec("nas2", "filesystem", str(work / "nas2"), rank=98))
        seconds = _timed(lambda: _copy_all(archive, uids, "nas2", threads))
        results[f"copy_filesystem_{threads}_threads_mb_s"] = round(mb / seconds, 1)
        source = work / "online" / next(p for p in (work / "online").iterdir() if p.name[0] != ".")
        seconds = _timed(
            lambda: (
                subprocess.run(["cp", "-r", str(source), str(work / "cp")], check=True)
                or subprocess.run(["sync"], check=True)
            )
        )
        results["cp_r_then_sync_mb_s"] = round(mb / seconds, 1)

        # Recall from S3: the NAS is made the slowest area, so the fastest copy is on S3.
        archive.areas.update("nas", {"rank": 99})
        c = copies
        for uid in uids:
            assert c.drop_online(engine, archive.areas, uid, recheck=False)
        assert len(c.not_online(engine, uids)) == images
        seconds = _timed(lambda: archive.recall(uids, study_instance_uid=study))
        results[f"recall_s3_{workers}_workers_s"] = round(seconds, 2)
        results["recall_mb_s"] = round(mb / seconds, 1)
        assert not c.not_online(engine, uids)
        seconds = _timed(lambda: archive.locate({"StudyInstanceUID": study}))
        results["locate_online_study_s"] = round(seconds, 3)
        return results
    finally:
        moto.kill()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--workers", type=int, default=16, help="recall threads")
    parser.add_argument("--threads", type=int, default=8, help="parallel copy threads")
    args = parser.parse_args()
    print(json.dumps(run(args.images, args.workers, args.threads), indent=1))


if __name__ == "__main__":
    main()
