"""C-STORE rounds (``archive_bench --store-rounds N``): each round measures the disk's fsync
ceiling (:mod:`bench.fsync_ceiling`, in the work folder, so the same disk), then starts each
archive afresh and stores set ``a`` on one association and set ``b`` on four: ours (once per
``--core-workers`` setting; ``pg:N`` is N DICOM processes on PostgreSQL, one fresh database
per core in a cluster the bench starts), then Orthanc's. The rounds interleave the archives,
so a slow spell of this shared machine's disk or CPUs weighs on all of them; ratios are per
round, and their median is what is reported."""

from __future__ import annotations

import dataclasses
import functools
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import measure, report
from bench.corpus import Corpus
from bench.fsync_ceiling import ceiling
from bench.servers import BenchPostgres, CoreServer, OrthancServer, Target

STORE_TIMEOUT = 900.0
WORKER_START_TIMEOUT = 120.0
Attempt = Callable[[Target, str, Callable[[], Any]], Any]


def core_label(setting: str) -> str:
    database, workers = _split(setting)
    prefix = "core-pg" if database else "core"
    return prefix if workers == "" else f"{prefix}-w{workers}"


def _split(setting: str) -> tuple[str, str]:
    """``pg:2`` -> ("pg", "2"); ``2`` -> ("", "2")."""
    database, _, workers = setting.rpartition(":")
    if database not in ("", "pg"):
        raise ValueError(f"unknown database {database!r} in --core-workers {setting!r}")
    return database, workers


def run_rounds(
    rounds_wanted: int,
    workers: list[str],
    orthanc: bool,
    corpus: Corpus,
    work: Path,
    peers: dict[str, int],
    attempt: Attempt,
) -> dict[str, Any]:
    postgres = BenchPostgres() if any(_split(w)[0] for w in workers) else None
    if postgres is not None:
        postgres.start()
    try:
        rounds = [
            _round(number, workers, orthanc, corpus, work, peers, attempt, postgres)
            for number in range(rounds_wanted)
        ]
    finally:
        if postgres is not None:
            postgres.stop()
    return {"store_rounds": rounds, "comparison": comparison(rounds, workers)}


def _round(
    number: int,
    workers: list[str],
    orthanc: bool,
    corpus: Corpus,
    work: Path,
    peers: dict[str, int],
    attempt: Attempt,
    postgres: BenchPostgres | None,
) -> dict[str, Any]:
    figures: dict[str, Any] = {"fsync_ceiling": ceiling(work, objects=150)}
    print(f"round {number + 1}: fsync ceiling {figures['fsync_ceiling']}", flush=True)
    servers: list[tuple[str, Any]] = [(w, _core(work, number, w, postgres)) for w in workers]
    if orthanc:
        servers.append(("", OrthancServer(work / f"orthanc-{number}", work / "o.log", peers)))
    for setting, server in servers:
        try:
            processes = _split(setting)[1] if isinstance(server, CoreServer) else ""
            with _dicom_workers(processes):
                target = server.start()
            if isinstance(server, CoreServer):
                target = dataclasses.replace(target, label=core_label(setting))
                _wait_for_workers(server.log_path, processes)
            figures[target.label] = {
                key: attempt(
                    target,
                    f"round {number + 1}: C-STORE, {count} association(s)",
                    functools.partial(measure.store, target, files, count, STORE_TIMEOUT),
                )
                for key, files, count in (
                    ("store_1", corpus.set("a").files, 1),
                    ("store_4", corpus.set("b").files, 4),
                )
            }
        finally:
            server.stop()
    return figures


def _core(work: Path, number: int, setting: str, postgres: BenchPostgres | None) -> CoreServer:
    name = f"core-{number}-{setting.replace(':', '-')}"
    url = postgres.new_database() if postgres is not None and _split(setting)[0] else None
    return CoreServer(work / name, work / f"{name}.log", database_url=url)


def _wait_for_workers(log_path: Path, setting: str) -> None:
    """The core is healthy before its extra DICOM processes have imported everything (10 s on
    this busy machine): measuring before they serve would measure their start-up."""
    processes = int(setting) if setting else 1
    expected = (processes or os.cpu_count() or 1) - 1
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        if text.count("serving port") >= expected:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{expected} DICOM worker(s) not serving after {WORKER_START_TIMEOUT} s")


@contextmanager
def _dicom_workers(setting: str) -> Iterator[None]:
    """``CORE_DICOM_WORKERS`` for the core started inside (the bench copies the environment)."""
    before = os.environ.get("CORE_DICOM_WORKERS")
    if setting:
        os.environ["CORE_DICOM_WORKERS"] = setting
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CORE_DICOM_WORKERS", None)
        else:
            os.environ["CORE_DICOM_WORKERS"] = before


def comparison(rounds: list[dict[str, Any]], workers: list[str]) -> list[dict[str, Any]]:
    """Per core setting: :func:`bench.report.round_ratios` against Orthanc, and one
    association's rate over the round's fsync ceiling."""
    records: list[dict[str, Any]] = []
    for setting in workers:
        label = core_label(setting)
        renamed = [{**r, "core": r.get(label, {})} for r in rounds]
        for record in report.round_ratios(renamed):
            records.append({**record, "metric": f"{record['metric']} [{label}]"})
        ours = [_rate(r.get(label, {}).get("store_1")) for r in rounds]
        tops = [r["fsync_ceiling"]["objects_per_s"] for r in rounds]
        shares = [a / b for a, b in zip(ours, tops, strict=True) if a is not None and b]
        median = statistics.median(shares) if shares else None
        records.append(
            {
                "metric": f"C-STORE 1 assoc / fsync ceiling [{label}]",
                "core": ours,
                "orthanc": tops,  # the ceiling, in the column the table prints second
                "ratios": [round(s, 2) for s in shares],
                "median_ratio": None if median is None else round(median, 2),
                "target": "toward 1",
                "target_met": None,
            }
        )
    return records


def _rate(figures: Any) -> float | None:
    if not isinstance(figures, dict):
        return None
    rate = figures.get("instances_per_s")
    return float(rate) if isinstance(rate, int | float) else None
