"""The ``/metrics`` scrape time under load (issue 15).

A core on SQLite (or ``--database-url`` PostgreSQL) with a queue backlog (``--jobs`` HL7
outbound jobs pending, as after a HIS outage) and ``--devices`` enrolled device programs,
while ``--clients`` threads keep the HTTP API busy and one pynetdicom client keeps storing
CT images; ``--scrapes`` scrapes of ``/metrics`` (one a second unless ``--interval``) are timed.

    .venv/bin/python -m bench.metrics_bench --jobs 10000 --devices 50 --clients 4 --scrapes 30
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from pydicom.uid import CTImageStorage, generate_uid
from pynetdicom import AE

from core_server import db
from core_server.hl7 import outbound
from core_server.queueing import devices
from core_server.server import create_app
from core_server.settings import Settings
from tests.conftest import free_port
from tests.dicom_data import make_ct

TOKEN = "bench-token"
HL7 = "MSH|^~\\&|PACS||HIS||20261201||ORM^O01|{n}|P|2.4\r"


def seed(engine: object, jobs: int, device_count: int) -> None:
    outbound.add_destination(engine, outbound.Destination("HIS", "127.0.0.1", 9, enabled=False))
    with db.write(engine) as conn:  # type: ignore[arg-type]
        for n in range(jobs):
            outbound.enqueue(conn, "HIS", HL7.format(n=n))
    for n in range(device_count):
        devices.create_device(engine, f"printer-{n}", "printer")  # type: ignore[arg-type]


def busy_http(base: str, stop: threading.Event, counts: list[int]) -> None:
    with httpx.Client(base_url=base) as client:
        token = client.post(
            "/api/auth/token", data={"username": "admin", "password": "bench-admin-1"}
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        while not stop.is_set():
            client.get("/api/modalities")
            counts[0] += 1


def busy_dicom(port: int, stop: threading.Event, counts: list[int]) -> None:
    ae = AE(ae_title="BENCH")
    ae.add_requested_context(CTImageStorage)
    assoc = ae.associate("127.0.0.1", port, ae_title="PACS")
    study = generate_uid()
    while not stop.is_set() and assoc.is_established:
        assoc.send_c_store(make_ct(study_uid=study, sop_uid=generate_uid()))
        counts[1] += 1
    assoc.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder), host="127.0.0.1", http_port=free_port(),
            dicom_port=free_port(), hl7_port=free_port(), database_url=args.database_url,
            admin_password="bench-admin-1", metrics_token=TOKEN, log_level="WARNING",
        )  # fmt: skip
        app = create_app(settings)
        seed(app.state.core.engine, args.jobs, args.devices)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=settings.http_port, log_level="warning")
        )
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{settings.http_port}"
        stop, counts = threading.Event(), [0, 0]
        load = [
            threading.Thread(target=busy_http, args=(base, stop, counts))
            for _ in range(args.clients)
        ]
        load.append(threading.Thread(target=busy_dicom, args=(settings.dicom_port, stop, counts)))
        for t in load:
            t.start()
        times, size = [], 0
        started = time.perf_counter()
        with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as scraper:
            for _ in range(args.scrapes):
                t0 = time.perf_counter()
                answer = scraper.get(base + "/metrics")
                times.append(time.perf_counter() - t0)
                assert answer.status_code == 200, answer.text
                size = len(answer.content)
                time.sleep(max(0.0, args.interval - times[-1]))
        elapsed = time.perf_counter() - started
        stop.set()
        for t in load:
            t.join()
        server.should_exit = True
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(
            f"backend={'postgresql' if args.database_url else 'sqlite'} jobs={args.jobs}"
            f" devices={args.devices} http_clients={args.clients}\n"
            f"scrape: n={len(times)} median={statistics.median(times) * 1000:.1f} ms"
            f" p95={p95 * 1000:.1f} ms max={times[-1] * 1000:.1f} ms body={size} bytes\n"
            f"load during the scrapes: {counts[0] / elapsed:.0f} HTTP req/s,"
            f" {counts[1] / elapsed:.0f} C-STORE/s"
        )


if __name__ == "__main__":
    main()
