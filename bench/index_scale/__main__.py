"""``python -m bench.index_scale build|queries|ingest`` (see ``docs/index-scale.md``).

One command at a time: each starts the cluster in ``--cluster-dir`` and stops it at the end.

- the index, once (reused by later runs; a bigger ``--instances`` grows it):
  ``nice -n 19 ionice -c3 .venv/bin/python -m bench.index_scale build --instances 10000000``
- the query set through a running core, with the plans:
  ``.venv/bin/python -m bench.index_scale queries --out bench/results/index-10m.json``
- the C-STORE rate on databases of each size, interleaved (the ingest curve):
  ``.venv/bin/python -m bench.index_scale ingest --database index_empty,index_1m,index_scale``
"""

from __future__ import annotations

import argparse
import json
import os
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Any

from bench.index_scale import cluster as pg
from bench.index_scale import fill, queries, report, run
from bench.profile import Profiler, summarize
from core_server import clock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.index_scale", description=__doc__)
    parser.add_argument("action", choices=("build", "queries", "ingest"))
    parser.add_argument("--cluster-dir", type=Path, default=pg.DEFAULT_DIR)
    parser.add_argument(
        "--database", default="index_scale", help="ingest: several, comma-separated"
    )
    parser.add_argument("--instances", type=int, default=1_000_000, help="build: index size")
    parser.add_argument("--years", type=int, default=3, help="build: the studies' period")
    parser.add_argument("--day", default="", help="the worklist's day, YYYY-MM-DD (today)")
    parser.add_argument("--repetitions", type=int, default=100)
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per kind")
    parser.add_argument(
        "--only",
        default="",
        help="queries: kinds whose name contains this (or one of these, comma-separated)",
    )
    parser.add_argument("--store", type=int, default=400, help="ingest: instances sent")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--client",
        choices=("raw", "pynetdicom"),
        default="raw",
        help="queries: the C-FIND requestor (raw: answers counted, not decoded)",
    )
    parser.add_argument(
        "--profile", type=Path, help="queries: py-spy (GIL thread) on the core into this raw file"
    )
    args = parser.parse_args(argv)
    day = date.fromisoformat(args.day) if args.day else clock.today()
    cluster = pg.PersistentCluster(args.cluster_dir)
    cluster.start()
    try:
        url = cluster.ensure_database(args.database.split(",")[0])
        result = _act(args, cluster, url, day)
    finally:
        cluster.stop()
    text = json.dumps(result, indent=2, ensure_ascii=False, default=str)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text if args.action != "queries" else json.dumps(result["timings"], indent=1))
    return 0


def _act(args: argparse.Namespace, cluster: pg.PersistentCluster, url: str, day: date) -> Any:
    if args.action == "build":
        return fill.fill(url, args.instances, years=args.years, day=day).__dict__
    if args.action == "ingest":
        from bench.index_scale import ingest

        urls = {name: cluster.ensure_database(name) for name in args.database.split(",")}
        return ingest.curve(urls, args.store)
    keys = queries.sample(url, day)
    only = args.only.split(",")
    kinds = [k for k in queries.kinds(keys) if any(o in k.name for o in only)]
    with run.running_core(url, raw=args.client == "raw") as core:
        assert core.target is not None
        pid = core.target.pid
        with Profiler(pid, args.profile, gil=True) if args.profile else nullcontext():
            timings = run.time_kinds(core, kinds, args.repetitions, args.time_limit, pid)
        plans = run.explain(cluster, core, kinds)
    for name, listed in plans.items():
        if name in timings:
            timings[name]["database_ms"] = report.db_ms(listed)
    if args.profile:
        print(json.dumps(summarize(args.profile, top=40), indent=1))
    meta = {
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "day": day.isoformat(),
        "client": args.client,
        "direct_path": os.environ.get("CORE_DICOM_DIRECT_PATH", "true"),
    }
    return {"meta": meta, "counts": _counts(url), "timings": timings, "plans": plans}


def _counts(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
            for table in fill.TABLES
        }


if __name__ == "__main__":
    raise SystemExit(main())
