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
import signal
import statistics as stats
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from core_server import db
from core_server.statistics import Filters, Statistics, facts
from core_server.statistics import figures as registry

FIRST = date(2025, 1, 1)
RANGES = {
    "ten_days": (date(2025, 6, 1), date(2025, 6, 10)),
    "month": (date(2025, 6, 1), date(2025, 6, 30)),
    "year": (date(2025, 1, 1), date(2025, 12, 31)),
}


BUDGET_S = 5.0  # stop repeating a slow measurement after this long (at least one run)
TIMEOUT_S = 90  # a query still running after this long is stopped and reported as such
# The indexes of migration 0090_statistics_indexes, as --index-compare drops and makes them.
INDEXES = {
    "ix_ris_exams_exam_time": "ris_exams (coalesce(scheduled_at, created_at))",
    "ix_ris_exams_retake_of_fk": "ris_exams (retake_of_fk)",
    "ix_ris_exam_history_new_status": "ris_exam_history (new_status, exam_fk)",
    "ix_ris_orders_referring_department": "ris_orders (referring_department)",
}


def timed(work: Callable[[], Any], repetitions: int) -> dict[str, Any]:
    """p50 and p95 (nearest rank) of up to ``repetitions`` runs after one warm-up, in ms; a
    run stopped after :data:`TIMEOUT_S` is ``{"timeout_s": ...}``."""
    started = time.perf_counter()
    try:
        work()
    except (DBAPIError, httpx.HTTPError):
        return {"timeout_s": TIMEOUT_S}
    runs: list[float] = []
    while len(runs) < repetitions and (not runs or time.perf_counter() - started < BUDGET_S):
        begun = time.perf_counter()
        work()
        runs.append((time.perf_counter() - begun) * 1000)
    runs.sort()
    p95 = runs[min(len(runs) - 1, round(0.95 * len(runs) + 0.5) - 1)]
    return {"p50_ms": round(stats.median(runs), 1), "p95_ms": round(p95, 1), "runs": len(runs)}


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
        shown = "  ".join(f"{k} {v.get('p95_ms', 'timeout'):>8}" for k, v in row.items())
        print(f"  {entry.name:40s} {shown}", flush=True)
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


def rebuild_facts(engine: Any) -> float:
    """The statistics facts table derived anew from the seeded histories (the seed writes
    the histories only); seconds taken."""
    began = time.perf_counter()
    with engine.begin() as conn:
        count = facts.rebuild(conn)
    seconds = round(time.perf_counter() - began, 1)
    print(f"  statistics facts rebuilt for {count:,} exams in {seconds} s", flush=True)
    return seconds


def _index(engine: Any, present: bool) -> None:
    """Drop or (re)make the indexes of migration 0090, and refresh the planner's statistics."""
    with engine.begin() as conn:
        for name, where in INDEXES.items():
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
            if present:
                conn.exec_driver_sql(f"CREATE INDEX {name} ON {where}")
        conn.exec_driver_sql("ANALYZE")


def with_timeout(engine: Any) -> None:
    """Stop any statement after :data:`TIMEOUT_S`: PostgreSQL's statement_timeout; on SQLite
    a watchdog interrupts the connection whose statement runs too long."""
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _limit(dbapi: Any, _record: Any) -> None:
            with dbapi.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {TIMEOUT_S * 1000}")
            dbapi.commit()

        return
    # The connection's latest statement and when it began, until the connection goes back to
    # the pool (SQLite does much of a query's work while its rows are fetched).
    running: dict[int, tuple[Any, float]] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Any, *_: Any) -> None:
        dbapi = conn.connection.dbapi_connection
        running[id(dbapi)] = (dbapi, time.monotonic())

    @event.listens_for(engine, "checkin")
    def _end(dbapi: Any, _record: Any) -> None:
        running.pop(id(dbapi), None)

    def watch() -> None:
        while True:
            time.sleep(1)
            for dbapi, began in list(running.values()):
                if time.monotonic() - began > TIMEOUT_S:
                    dbapi.interrupt()

    threading.Thread(target=watch, daemon=True).start()


def run_backend(backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from bench.statistics_seed import seed
    from tests.postgres import Cluster

    cluster = None
    if backend == "postgresql":
        cluster = Cluster()
        cluster.start()
        url = cluster.new_database()
    else:
        url = f"sqlite:///{args.sqlite_file or work / 'statistics.db'}"
    try:
        engine = db.make_engine(url)
        with_timeout(engine)
        seeded: dict[str, Any] = {"reused": url}
        if backend != "sqlite" or not args.sqlite_file:
            print(f"{backend}: seeding {args.exams:,} exams over {args.days} days ...", flush=True)
            seeded = asdict(seed(engine, args.exams, FIRST, args.days, images=args.images))
            print(f"  seeded in {seeded['seconds']:.0f} s: {seeded}", flush=True)
        else:
            db.migrate(engine)
        results: dict[str, Any] = {"seeded": seeded, "facts_rebuild_s": rebuild_facts(engine)}
        if args.index_compare:
            _index(engine, present=False)
            print("  without the indexes of 0090:", flush=True)
            results["service_without_index"] = measure_service(engine, args.repetitions, args.only)
        _index(engine, present=True)
        print("  with the indexes of 0090:", flush=True)
        results["service"] = measure_service(engine, args.repetitions, args.only)
        engine.dispose()
        if args.no_http:
            return results
        http = measure_http(url, work / f"core-{backend}", args.repetitions, args.only)
        for name, value in http.items():
            print(f"  HTTP {name:40s} year p95 {value.get('p95_ms', 'timeout')} ms")
        return results | {"http_year": http}
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
    parser.add_argument(
        "--sqlite-file", type=Path, default=None, help="reuse this seeded SQLite file (no seeding)"
    )
    parser.add_argument(
        "--index-compare",
        action="store_true",
        help="measure without the indexes of migration 0090 first",
    )
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurement")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the cluster on kill too
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
