"""1 node vs 3 nodes behind HAProxy on this machine (issue 16): C-STORE and QIDO-RS.

Each size gets a fresh cluster from tests/cluster/harness.py (nodes on 127.0.0.2-4, one
PostgreSQL database of the tests' throwaway server, one shared storage folder, Debian's
HAProxy on 127.0.0.1 with the rendered configuration). Measured, in this order:

- C-STORE through HAProxy: dcmtk ``storescu`` with ``--associations`` processes at once
  (bench.measure.store), the bench corpus' 512x512 CT/MR slices (~525 kB);
- with one node, the same on the node's own port (a second corpus set): HAProxy's cost;
- QIDO-RS through HAProxy: ``--clients`` threads, each ``--queries`` study/series/instance
  searches (by PatientID, by date range, a study's series, a series' instances);
- ``--calls`` queue calls made on the first node, each timed until a screen on the last node
  receives it (the cross-node event path; with one node, in-process).

CPU is read from /proc for every node and HAProxy. Results as JSON (``--out``) and a table.

    .venv/bin/python -m bench.cluster                      # 200 instances, sizes 1 and 3
    .venv/bin/python -m bench.cluster --instances 400 --queries 200 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from bench.corpus import Corpus, load_or_make
from bench.measure import store
from bench.procs import cpu_seconds
from bench.servers import Target
from tests.cluster.harness import Cluster
from tests.postgres import Cluster as Postgres

STORE_TIMEOUT = 900.0
POSTGRES: list[Postgres] = []  # the one server of this run, for its CPU figures
QUEUE_SETUP = (
    ("/api/queueing/queues", {"code": "US", "name": "超声", "department": "超声科",
                              "modality": "US", "prefix": "US"}),
    ("/api/queueing/rooms", {"code": "US1", "name": "超声一室", "queues": ["US"],
                             "min_call_interval_seconds": 0}),
)  # fmt: skip


def _postgres_pids(postgres: Postgres) -> list[int]:
    """The server and its backends: the postmaster (first line of postmaster.pid) and its
    children, from /proc (the backends of connections closed since are not counted)."""
    master = int((postgres.dir / "data" / "postmaster.pid").read_text().split()[0])
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


def _cpu(cluster: Cluster) -> dict[str, float]:
    """CPU seconds so far of each node, HAProxy, and each PostgreSQL process (``pg:PID``)."""
    pids = {n.name: n.process.pid for n in cluster.nodes if n.process is not None}
    if cluster.haproxy.process is not None:
        pids["haproxy"] = cluster.haproxy.process.pid
    pids.update({f"pg:{pid}": pid for pid in _postgres_pids(POSTGRES[0])})
    used = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError):  # a backend that just ended
            used[name] = cpu_seconds(pid)
    return used


def _with_cpu(cluster: Cluster, work: Any) -> dict[str, Any]:
    before = _cpu(cluster)
    result = dict(work())
    after = _cpu(cluster)
    # A PostgreSQL backend that ended meanwhile is not counted (the pools keep theirs).
    used = {name: after[name] - before.get(name, 0.0) for name in after}
    result["cpu_s"] = {k: round(v, 2) for k, v in used.items() if not k.startswith("pg:")}
    result["cpu_s"]["postgres"] = round(sum(v for k, v in used.items() if k.startswith("pg:")), 2)
    result["nodes_cpu_s"] = round(
        sum(v for k, v in result["cpu_s"].items() if k not in ("haproxy", "postgres")), 2
    )
    return result


def _queries(corpus: Corpus) -> list[str]:
    paths = []
    for study in corpus.set("a").studies:
        paths += [
            f"/dicom-web/studies?PatientID={study.patient_id}",
            f"/dicom-web/studies?StudyDate={study.study_date}-{study.study_date}&ModalitiesInStudy={study.modality}",
            f"/dicom-web/studies/{study.study_uid}/series",
            f"/dicom-web/studies/{study.study_uid}/series/{study.series_uid}/instances?limit=50",
        ]
    return paths


def qido(cluster: Cluster, paths: list[str], clients: int, per_client: int) -> dict[str, Any]:
    """``clients`` threads at once, each ``per_client`` searches through HAProxy."""
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        with cluster.admin() as api:
            for i in range(per_client):
                path = paths[(offset + i) % len(paths)]
                started = time.perf_counter()
                answer = api.get(path, headers={"Accept": "application/dicom+json"})
                took = time.perf_counter() - started
                with lock:
                    times.append(took)
                    if answer.status_code not in (200, 204):
                        errors.append(f"{path}: {answer.status_code}")

    threads = [threading.Thread(target=client, args=(i * 7,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"QIDO failed: {errors[:3]}")
    ordered = sorted(times)
    return {
        "clients": clients,
        "queries": len(times),
        "queries_per_s": round(len(times) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
    }


def call_latency(cluster: Cluster, calls: int) -> dict[str, Any]:
    """A call made on the first node (REST, direct) until a screen connected to the last
    node (direct) receives its ``ticket.called``: the cross-node event path of
    docs/cluster-state.md (with one node, the same node: the in-process path)."""
    caller, screen = cluster.nodes[0], cluster.nodes[-1]
    with cluster.admin(caller.url) as api:
        for path, body in QUEUE_SETUP:
            assert api.post(path, json=body).status_code == 201
        seen: dict[int, float] = {}
        ready = threading.Event()
        stop = threading.Event()
        token = str(api.headers["Authorization"]).split()[1]

        def listen() -> None:
            url = screen.url.replace("http", "ws") + "/api/ws"
            with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
                ready.set()
                while not stop.is_set():
                    try:
                        event = json.loads(ws.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    if event["type"] == "ticket.called":
                        seen[int(event["payload"]["ticket_id"])] = time.perf_counter()

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        ready.wait(30)
        latencies = []
        for i in range(calls):
            order = {
                "patient": {"patient_id": f"EV{i}", "name": "李^四", "id_card_number": ""},
                "placer_order_number": f"EV-{i}",
                "placer_application": "HIS",
                "procedures": [{"procedure_code": "US-ABD"}],
            }
            answer = api.post("/api/ris/orders", json=order)
            accession = answer.json()["exams"][0]["accession_number"]
            api.post("/api/queueing/check-in", json={"accession": accession}).raise_for_status()
            sent = time.perf_counter()
            called = api.post("/api/queueing/rooms/US1/call-next", json={})
            ticket = int(called.json()["ticket"]["id"])
            deadline = time.monotonic() + 30
            while ticket not in seen and time.monotonic() < deadline:
                time.sleep(0.001)
            latencies.append(1000 * (seen[ticket] - sent))
        stop.set()
        listener.join(10)
    ordered = sorted(latencies)
    return {
        "calls": calls,
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def run_size(
    size: int, corpus: Corpus, postgres: Postgres, folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    cluster = Cluster(folder / f"nodes-{size}", postgres.new_database(), size=size)
    started = time.perf_counter()
    cluster.start()
    result: dict[str, Any] = {"nodes": size, "start_s": round(time.perf_counter() - started, 1)}
    try:
        first = cluster.nodes[0]
        assert first.process is not None
        proxy = Target(
            "haproxy", "PACS", "127.0.0.1", cluster.haproxy.ports.dicom, first.process.pid
        )
        files = corpus.set("a").files
        result["store_via_haproxy"] = _with_cpu(
            cluster, lambda: store(proxy, files, args.associations, STORE_TIMEOUT)
        )
        if size == 1:
            direct = Target("direct", "PACS", first.address, first.ports.dicom, first.process.pid)
            files_b = corpus.set("b").files
            result["store_direct"] = _with_cpu(
                cluster, lambda: store(direct, files_b, args.associations, STORE_TIMEOUT)
            )
        paths = _queries(corpus)
        qido(cluster, paths, 1, 10)  # warm: connections, the first plans
        result["qido_via_haproxy"] = _with_cpu(
            cluster, lambda: qido(cluster, paths, args.clients, args.queries)
        )
        if args.calls:
            result["call_to_screen"] = call_latency(cluster, args.calls)
    finally:
        cluster.stop()
    return result


def _median(rounds: list[dict[str, Any]], part: str, key: str) -> float:
    return round(statistics.median(r[part][key] for r in rounds), 1)


def _per_op(rounds: list[dict[str, Any]], part: str, count: str, who: str = "") -> float:
    """The nodes' (or ``who``'s) CPU per object or query, ms (median over rounds)."""
    return round(
        statistics.median(
            1000 * (r[part]["cpu_s"][who] if who else r[part]["nodes_cpu_s"]) / r[part][count]
            for r in rounds
        ),
        2,
    )


def _calls(rounds: list[dict[str, Any]]) -> str:
    if not all("call_to_screen" in r for r in rounds):
        return "-"
    return (
        f"{_median(rounds, 'call_to_screen', 'p50_ms')} /"
        f" {_median(rounds, 'call_to_screen', 'p95_ms')} ms"
    )


def _table(results: list[dict[str, Any]]) -> str:
    """Medians over the rounds, one row per size (and the direct row for one node)."""
    lines = [
        "| nodes | C-STORE inst/s | MB/s | CPU per object: nodes / PostgreSQL | QIDO q/s | p50"
        " | p95 | CPU per query: nodes / PostgreSQL | call to screen p50 / p95 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size in dict.fromkeys(r["nodes"] for r in results):
        rounds = [r for r in results if r["nodes"] == size]
        lines.append(
            f"| {size} | {_median(rounds, 'store_via_haproxy', 'instances_per_s')}"
            f" | {_median(rounds, 'store_via_haproxy', 'mb_per_s')}"
            f" | {_per_op(rounds, 'store_via_haproxy', 'instances')} /"
            f" {_per_op(rounds, 'store_via_haproxy', 'instances', 'postgres')} ms"
            f" | {_median(rounds, 'qido_via_haproxy', 'queries_per_s')}"
            f" | {_median(rounds, 'qido_via_haproxy', 'p50_ms')} ms"
            f" | {_median(rounds, 'qido_via_haproxy', 'p95_ms')} ms"
            f" | {_per_op(rounds, 'qido_via_haproxy', 'queries')} /"
            f" {_per_op(rounds, 'qido_via_haproxy', 'queries', 'postgres')} ms"
            f" | {_calls(rounds)} |"
        )
        if all("store_direct" in r for r in rounds):
            lines.append(
                f"| {size}, direct (no HAProxy)"
                f" | {_median(rounds, 'store_direct', 'instances_per_s')}"
                f" | {_median(rounds, 'store_direct', 'mb_per_s')}"
                f" | {_per_op(rounds, 'store_direct', 'instances')} /"
                f" {_per_op(rounds, 'store_direct', 'instances', 'postgres')} ms"
                " | - | - | - | - | - |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,3", help="cluster sizes to measure (max 3)")
    parser.add_argument("--instances", type=int, default=200, help="instances per corpus set")
    parser.add_argument("--associations", type=int, default=4, help="storescu at once")
    parser.add_argument("--clients", type=int, default=4, help="QIDO client threads")
    parser.add_argument("--queries", type=int, default=100, help="QIDO searches per client")
    parser.add_argument("--calls", type=int, default=30, help="queue calls timed to a screen")
    parser.add_argument("--rounds", type=int, default=1, help="sizes measured in turn N times")
    parser.add_argument("--corpus-dir", type=Path, default=Path("/tmp/archive-bench-corpus"))
    parser.add_argument("--out", type=Path, help="JSON results")
    args = parser.parse_args(argv)
    corpus = load_or_make(args.corpus_dir, args.instances)
    postgres = Postgres()
    postgres.start()
    POSTGRES.append(postgres)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as folder:
            sizes = [int(s) for s in args.sizes.split(",")] * args.rounds  # interleaved
            for number, size in enumerate(sizes):
                round_folder = Path(folder) / str(number)
                results.append(run_size(size, corpus, postgres, round_folder, args))
                print(json.dumps(results[-1]), flush=True)
    finally:
        postgres.stop()
    print(_table(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
