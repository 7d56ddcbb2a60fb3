"""Forwarding throughput to dcmtk's storescp (instances/s) vs a direct storescu of the same
files: the forwarding service (SQLite queue, per-study batches over one association each,
its default two workers) against one storescu association, runs interleaved, medians compared.

    .venv/bin/python bench/forwarding.py [--files 400] [--runs 3] [--size 256] [--studies 2]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydicom.uid import generate_uid

from core_server import db
from core_server.archive import Archive, Origin
from core_server.events import EventBus
from core_server.storage.forwarding import config, queue
from core_server.storage.forwarding.service import Forwarding
from tests.conftest import free_port
from tests.core_server.storage.forwarding.conftest import wait_listening
from tests.dicom_data import make_ct, write

ENV = {"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"}


def storescu(port: int, files: list[Path]) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["storescu", "-aec", "DEST", "127.0.0.1", str(port), *map(str, files)],
        check=True,
        capture_output=True,
        env=ENV,
        timeout=600,
    )
    return time.perf_counter() - started


def forward(service: Forwarding, items: list[queue.Item]) -> float:
    queue.enqueue(service.engine, items)  # the tasks of the last run are sent: queued anew
    started = time.perf_counter()
    while service.run_once():
        pass
    elapsed = time.perf_counter() - started
    counts = queue.JOBS.counts(service.engine)
    if counts.get("pending"):  # a failed try waits out its back-off: say why
        print({t["last_error"] for t in queue.listed(service.engine, status="pending")})
    assert counts.get("pending", 0) == counts.get("dead", 0) == 0, counts
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=256, help="image rows = columns (16-bit)")
    parser.add_argument("--studies", type=int, default=2, help="the files split into studies")
    parser.add_argument("--workers", type=int, default=2, help="forwarding workers")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        studies = [generate_uid() for _ in range(args.studies)]
        files = [
            write(
                make_ct(size=args.size, instance_number=i, study_uid=studies[i % args.studies]),
                root / "files",
            )
            for i in range(args.files)
        ]
        engine = db.make_engine(f"sqlite:///{root / 'source.db'}")
        db.migrate(engine)
        bus = EventBus()
        archive = Archive(engine, root / "storage", bus)
        service = Forwarding(
            engine, archive, bus, ae_title="SOURCE", subscribe=False, workers=args.workers
        )
        for path in files:
            archive.store_instance(path.read_bytes(), Origin("import"))
        port = free_port()
        (root / "received").mkdir()
        scp = subprocess.Popen(
            ["storescp", "-aet", "DEST", "-od", str(root / "received"), str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=ENV,
        )
        try:
            wait_listening(port, scp)
            dest = config.save_destination(
                engine, config.Destination("bench", "dicom", "DEST", "127.0.0.1", port)
            )
            items = [
                queue.Item(dest.id, f["SOPInstanceUID"], f["SOPClassUID"], f["StudyInstanceUID"])
                for f in archive.find("IMAGE", {})
            ]
            rates: dict[str, list[float]] = {"storescu": [], "forwarding": []}
            for run in range(args.runs):
                order = ["storescu", "forwarding"] if run % 2 == 0 else ["forwarding", "storescu"]
                for kind in order:
                    took = storescu(port, files) if kind == "storescu" else forward(service, items)
                    rates[kind].append(len(files) / took)
        finally:
            scp.terminate()
            scp.wait(timeout=10)
            engine.dispose()
    direct, forwarded = statistics.median(rates["storescu"]), statistics.median(rates["forwarding"])
    size = args.size * args.size * 2 / 1024
    print(f"{args.files} x {size:.0f} kB in {args.studies} studies, {args.runs} runs, medians:")
    print(f"  storescu {direct:.0f} instances/s, forwarding {forwarded:.0f} instances/s")
    print(f"  forwarding/storescu {forwarded / direct:.2f}")
    print(f"  all runs: {rates}")


if __name__ == "__main__":
    main()
