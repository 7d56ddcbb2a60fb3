"""Statistics on a year of a 1,000-exams-a-day department (issue 15): every registered figure
for ten days (10,000 exams), a month and the whole year, through the service, on SQLite and
PostgreSQL; the Excel and PDF of ten days; and the HTTP JSON of every figure for the year.

    .venv/bin/python -m bench.statistics_bench                       # both backends, 365,000 exams
    .venv/bin/python -m bench.statistics_bench --exams 20000 --backend sqlite   # quick look

The data is seeded by :mod:`bench.statistics_seed` (bulk inserts, about a minute per backend).
Results: a table on stdout and JSON in ``bench/results/statistics-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics as stats
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from core_server import db
from core_server.statistics import Filters, Statistics
from core_server.statistics import figures as registry

FIRST = date(2025, 1, 1)
RANGES = {
    "ten_days": (date(2025, 6, 1), date(2025, 6, 10)),
    "month": (date(2025, 6, 1), date(2025, 6, 30)),
    "year": (date(2025, 1, 1), date(2025, 12, 31)),
}


def timed(work: Callable[[], Any], repetitions: int) -> dict[str, float]:
    """p50 and p95 (nearest rank) of ``repetitions`` runs after one warm-up, in ms."""
    work()
    runs = []
    for _ in range(repetitions):
        started = time.perf_counter()
        work()
        runs.append((time.perf_counter() - started) * 1000)
    runs.sort()
    p95 = runs[min(len(runs) - 1, round(0.95 * len(runs) + 0.5) - 1)]
    return {"p50_ms": round(stats.median(runs), 1), "p95_ms": round(p95, 1)}


def measure_service(engine: Any, repetitions: int, only: str) -> dict[str, Any]:
    service = Statistics(engine, "基准医院")
    results: dict[str, Any] = {}
    for entry in registry.entries():
        if only and only not in entry.name:
            continue
        name, row = entry.name, {}
        for label, (start, end) in RANGES.items():
            filters = Filters(start=start, end=end)
            row[label] = timed(lambda f=filters, n=name: service.figure(n, f, "zh"), repetitions)
        ten = Filters(*RANGES["ten_days"])
        row["excel_ten_days"] = timed(lambda t=ten, n=name: service.excel(n, t, "zh"), repetitions)
        results[entry.name] = row
        print(f"  {entry.name:40s} " + "  ".join(f"{k} {v['p95_ms']:8.1f}" for k, v in row.items()))
    first = next(iter(results), "")
    if first:
        ten = Filters(*RANGES["ten_days"])
        results[first]["pdf_ten_days"] = timed(lambda: service.pdf(first, ten, "zh"), 3)
    return results


def measure_http(url: str, data_dir: Path, repetitions: int, only: str) -> dict[str, Any]:
    """Each figure's JSON for the year through the running core (as the page loads it)."""
    from tests.conftest import RunningCore

    core = RunningCore(data_dir, url).start()
    results: dict[str, Any] = {}
    try:
        with core.api() as admin:
            start, end = RANGES["year"]
            params = {"start": start.isoformat(), "end": end.isoformat()}
            for entry in registry.entries():
                if only and only not in entry.name:
                    continue
                path = f"/api/statistics/figures/{entry.name}"

                def get(path: str = path) -> None:
                    admin.get(path, params=params, timeout=120).raise_for_status()

                results[entry.name] = timed(get, repetitions)
            results["/api/statistics/choices"] = timed(
                lambda: admin.get("/api/statistics/choices").raise_for_status(), repetitions
            )
    finally:
        core.stop()
    return results


def run_backend(backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from bench.statistics_seed import seed
    from tests.postgres import Cluster

    cluster = None
    if backend == "postgresql":
        cluster = Cluster()
        cluster.start()
        url = cluster.new_database()
    else:
        url = f"sqlite:///{work / 'statistics.db'}"
    try:
        engine = db.make_engine(url)
        print(f"{backend}: seeding {args.exams:,} exams over {args.days} days ...", flush=True)
        seeded = seed(engine, args.exams, FIRST, args.days, images=args.images)
        print(f"  seeded in {seeded.seconds:.0f} s: {asdict(seeded)}", flush=True)
        if backend == "postgresql":
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        service = measure_service(engine, args.repetitions, args.only)
        engine.dispose()
        http = measure_http(url, work / f"core-{backend}", args.repetitions, args.only)
        for name, value in http.items():
            print(f"  HTTP {name:40s} year p95 {value['p95_ms']:8.1f} ms")
        return {"seeded": asdict(seeded), "service": service, "http_year": http}
    finally:
        if cluster is not None:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exams", type=int, default=365_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--images", type=int, default=2, help="instances per performed exam")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--only", default="", help="only figures whose name contains this")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results: dict[str, Any] = {
        "exams": args.exams,
        "days": args.days,
        "ranges": {k: [v[0].isoformat(), v[1].isoformat()] for k, v in RANGES.items()},
    }
    with tempfile.TemporaryDirectory(prefix="statbench-") as tmp:
        for backend in backends:
            results[backend] = run_backend(backend, args, Path(tmp))
    out = args.out or Path("bench/results") / f"statistics-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
