"""HL7 interface throughput: inbound ADT^A04 over MLLP into the RIS (each stored, applied and
acknowledged), and the outbound queue draining to an MLLP receiver.

    .venv/bin/python -m bench.hl7_bench [--messages 300] [--connections 1 4] [--database-url URL]

Runs in one process on a temporary SQLite database unless ``--database-url`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import hl7.mllp

from core_server import db
from core_server.events import EventBus
from core_server.hl7 import Destination, Hl7Service, add_destination, enqueue, list_jobs
from core_server.ris import Ris


def _adt(n: int, connection: int) -> bytes:
    control_id = f"B{connection}-{n}"
    return (
        f"MSH|^~\\&|HIS|HOSP|PACS|RAD|20261129080000||ADT^A04^ADT_A01|{control_id}|P|2.5"
        "||||||UNICODE UTF-8\r"
        f"PID|1||B{connection:02d}{n:06d}^^^HOSP^MR||张^三||19900307|M\r"
        f"PV1|1|O{'|' * 17}V{connection:02d}{n:06d}\r"
    ).encode()


async def _client(port: int, connection: int, count: int) -> list[float]:
    reader, writer = await hl7.mllp.open_hl7_connection("127.0.0.1", port)
    latencies = []
    for n in range(count):
        start = time.perf_counter()
        writer.writeblock(_adt(n, connection))
        await writer.drain()
        ack = await reader.readblock()
        latencies.append(time.perf_counter() - start)
        assert b"MSA|AA" in ack, ack
    writer.close()
    return latencies


async def _receiver(received: list[int]) -> asyncio.Server:
    async def serve(reader: Any, writer: Any) -> None:
        try:
            while True:
                block = await reader.readblock()
                received.append(1)
                control_id = block.split(b"\r")[0].split(b"|")[9].decode()
                writer.writeblock(f"MSH|^~\\&|HIS||||||ACK|1|P|2.5\rMSA|AA|{control_id}\r".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    return await hl7.mllp.start_hl7_server(serve, "127.0.0.1", 0)


def run(messages: int, connections: list[int], database_url: str | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = db.make_engine(url)
        db.migrate(engine)
        bus = EventBus()
        ris = Ris(engine, bus)
        ris.start()
        service = Hl7Service(engine, ris, bus, host="127.0.0.1", port=0, application="PACS")
        service.start()
        try:
            for count in connections:
                per = messages // count

                async def clients(count: int = count, per: int = per) -> list[list[float]]:
                    base = len(results) * 100
                    return await asyncio.gather(
                        *(_client(service.port, base + c, per) for c in range(count))
                    )

                start = time.perf_counter()
                latencies = sorted(t for c in asyncio.run(clients()) for t in c)
                elapsed = time.perf_counter() - start
                results[f"inbound_{count}_connections"] = {
                    "messages": len(latencies),
                    "per_second": round(len(latencies) / elapsed, 1),
                    "median_ms": round(latencies[len(latencies) // 2] * 1000, 2),
                    "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 2),
                }

            received: list[int] = []
            loop = asyncio.new_event_loop()
            server = loop.run_until_complete(_receiver(received))
            import threading

            thread = threading.Thread(target=loop.run_forever, daemon=True)
            thread.start()
            port = server.sockets[0].getsockname()[1]
            add_destination(engine, Destination(name="BENCH", host="127.0.0.1", port=port))
            text = "MSH|^~\\&|PACS||||||ORM^O01||P|2.3.1\rPID|1||P1||张^三\rORC|SC|A1||IP\r"
            start = time.perf_counter()
            for _ in range(messages):
                enqueue(engine, "BENCH", text)
            queued = time.perf_counter() - start
            service.sender.wake()
            while len(list_jobs(engine, status="sent", limit=messages + 1)) < messages:
                time.sleep(0.05)
            elapsed = time.perf_counter() - start
            results["outbound"] = {
                "messages": messages,
                "enqueue_per_second": round(messages / queued, 1),
                "delivered_per_second": round(messages / elapsed, 1),
            }
            loop.call_soon_threadsafe(loop.stop)
        finally:
            service.stop()
            engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--database-url")
    args = parser.parse_args()
    print(json.dumps(run(args.messages, args.connections, args.database_url), indent=2))


if __name__ == "__main__":
    main()
