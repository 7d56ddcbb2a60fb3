"""The disk's fsync ceiling under a folder: how many objects per second one writer can make
durable there the way the archive does (``core_server.archive.storage.StorageArea.adopt``:
write the file, fsync it, rename it, fsync the folder), with nothing else to do. C-STORE on one
association waits for each answer, and each answer waits for these two syncs, so this is what
one association could reach with free CPUs.

    .venv/bin/python -m bench.fsync_ceiling [--dir DIR] [--objects 200] [--size 525000]

Also measured: the same objects written directly under their final names and fsynced, with no
rename and no folder fsync (what Orthanc's ``SyncStorageArea`` does, as we read its
``FilesystemStorage``: the new name is durable only as far as the file system commits it with
the file), and bare ``fdatasync`` of a 4 kB overwrite of one file (the journal's commit rate,
the floor of any durable write).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core_server.archive.storage import FolderSyncs

TIME_LIMIT = 30.0  # seconds per measurement


def ceiling(folder: Path, objects: int = 200, size: int = 525_000) -> dict[str, Any]:
    """Objects/s made durable as the archive makes them, and bare fdatasyncs/s, in ``folder``."""
    work = Path(tempfile.mkdtemp(prefix="fsync-ceiling-", dir=folder))
    try:
        return {
            "objects_per_s": _objects(work, objects, size),
            "in_place_per_s": _in_place(work, objects, size),
            "fdatasync_per_s": _fdatasyncs(work, objects),
            "object_bytes": size,
            "folder": str(folder),
        }
    finally:
        for path in work.iterdir():
            path.unlink()
        work.rmdir()


def _objects(work: Path, count: int, size: int) -> float:
    data = os.urandom(size)
    final = work / "final"
    final.mkdir()
    started = time.perf_counter()
    done = 0
    for done in range(1, count + 1):
        part = _written(work / f"{done}.part", data)
        os.rename(part, final / f"{done}.dcm")
        _fsync_dir(final)
        if time.perf_counter() - started > TIME_LIMIT:
            break
    rate = done / (time.perf_counter() - started)
    for path in final.iterdir():
        path.unlink()
    final.rmdir()
    return round(rate, 1)


def _in_place(work: Path, count: int, size: int) -> float:
    data = os.urandom(size)
    final = work / "in-place"
    final.mkdir()
    started = time.perf_counter()
    done = 0
    while done < count and time.perf_counter() - started < TIME_LIMIT:
        _written(final / f"{done}.dcm", data)
        done += 1
    rate = done / (time.perf_counter() - started)
    for path in final.iterdir():
        path.unlink()
    final.rmdir()
    return round(rate, 1)


def _fdatasyncs(work: Path, count: int) -> float:
    path = work / "journal"
    block = os.urandom(4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, block)
        os.fsync(fd)
        started = time.perf_counter()
        done = 0
        while done < count and time.perf_counter() - started < TIME_LIMIT:
            os.pwrite(fd, block, 0)
            os.fdatasync(fd)
            done += 1
        return round(done / (time.perf_counter() - started), 1)
    finally:
        os.close(fd)


def concurrent(
    folder: Path, writers: int = 4, objects: int = 200, size: int = 525_000
) -> dict[str, Any]:
    """``writers`` threads making objects durable in one folder at once (the four associations
    of one study), the archive's way (each thread fsyncs the folder after its rename) and with
    the folder's fsync grouped by the archive's own :class:`FolderSyncs`. Objects/s over all
    writers."""
    work = Path(tempfile.mkdtemp(prefix="fsync-concurrent-", dir=folder))
    try:
        return {
            "writers": writers,
            "each_fsyncs_per_s": _threads(work, writers, objects, size, _fsync_dir),
            "grouped_per_s": _threads(work, writers, objects, size, FolderSyncs().sync),
        }
    finally:
        for path in work.iterdir():
            path.unlink()
        work.rmdir()


def _threads(
    work: Path, writers: int, count: int, size: int, sync: Callable[[Path], None]
) -> float:
    data = os.urandom(size)
    final = work / "final"
    final.mkdir()
    each = count // writers

    def write(number: int) -> None:
        for i in range(each):
            part = _written(work / f"{number}-{i}.part", data)
            os.rename(part, final / f"{number}-{i}.dcm")
            sync(final)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = each * writers / (time.perf_counter() - started)
    for path in final.iterdir():
        path.unlink()
    final.rmdir()
    return round(rate, 1)


def _written(path: Path, data: bytes) -> Path:
    """A new file with ``data``, fsynced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fsync_ceiling", description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--size", type=int, default=525_000)
    parser.add_argument(
        "--writers", type=int, default=0, help="N threads at once, the folder fsync grouped or not"
    )
    parser.add_argument("--runs", type=int, default=1, help="with --writers: interleaved runs")
    args = parser.parse_args()
    if args.writers:
        for _ in range(args.runs):
            print(json.dumps(concurrent(args.dir, args.writers, args.objects, args.size)))
        return
    print(json.dumps(ceiling(args.dir, args.objects, args.size)))


if __name__ == "__main__":
    main()
