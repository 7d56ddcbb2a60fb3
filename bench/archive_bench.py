"""Benchmark of the core server's DICOM archive, optionally against Debian's Orthanc.

    .venv/bin/python -m bench.archive_bench [--orthanc] [--instances N] [--fill 1000000]
                                            [--out bench/results/NAME.json]

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from pydicom import Dataset

from bench import corpus as corpus_mod
from bench import measure, procs, report, store_rounds
from bench.corpus import Corpus, Study
from bench.fill import FillReport, fill
from bench.profile import Profiler, summarize
from bench.servers import (
    BENCH_AE,
    DEST_AE,
    HOST,
    CoreServer,
    OrthancServer,
    Target,
    storescp_destination,
    wait_listening,
)

REPO = Path(__file__).resolve().parents[1]
STORE_TIMEOUT = 900.0
FIND_TIME_LIMIT = 120.0
ECHO_REPETITIONS = 20
RETRIEVE_TIMEOUT = 600.0
STUDY_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyID",
    "StudyDescription",
    "ReferringPhysicianName",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.archive_bench", description=__doc__)
    parser.add_argument("--orthanc", action="store_true", help="also measure Debian's Orthanc")
    parser.add_argument(
        "--instances", type=int, default=400, help="instances per corpus set (3/4 CT, 1/4 MR)"
    )
    parser.add_argument(
        "--fill", type=int, default=1_000_000, help="instances in the large index (0: skip)"
    )
    parser.add_argument("--repetitions", type=int, default=50, help="C-FIND repetitions")
    parser.add_argument("--retrieve-repetitions", type=int, default=3, help="C-GET/MOVE runs")
    parser.add_argument("--out", type=Path, help="JSON results (default bench/results/...)")
    parser.add_argument(
        "--corpus-dir", type=Path, default=Path(tempfile.gettempdir()) / "archive-bench-corpus"
    )
    parser.add_argument(
        "--profile", type=Path, help="py-spy our server into this folder (perturbs figures)"
    )
    parser.add_argument(
        "--profile-gil", action="store_true", help="with --profile: only the GIL holder"
    )
    parser.add_argument(
        "--core-workers",
        default="",
        help="with --store-rounds: comma-separated CORE_DICOM_WORKERS settings, one core each"
        " per round (e.g. 1,0; empty: the core's default)",
    )
    parser.add_argument(
        "--store-rounds",
        type=int,
        default=0,
        help="only C-STORE: N rounds, each on fresh servers, ours and Orthanc's in turn",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dirs")
    parser.add_argument("--inside-netns", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        args.out = REPO / "bench" / "results" / f"archive-bench-{stamp}.json"
    return args


def main(argv: list[str] | None = None) -> int:
    # SIGTERM (timeout, kill) unwinds like Ctrl-C, so every finally block stops its process.
    signal.signal(signal.SIGTERM, _terminated)
    raw = sys.argv[1:] if argv is None else argv
    args = parse_args(raw)
    corpus = corpus_mod.load_or_make(args.corpus_dir, args.instances)
    if args.orthanc and not args.inside_netns:
        return _rerun_in_namespace(raw)
    results = run(args, corpus)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    _print_results(results)
    print(f"\nresults written to {args.out}")
    return 0


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


# -- the namespace ------------------------------------------------------------------------------


def _rerun_in_namespace(argv: list[str]) -> int:
    """Orthanc binds 0.0.0.0: run the whole measurement (both servers, all clients) inside a
    network namespace of our own with only a loopback, then delete it."""
    name = f"archbench{os.getpid()}"
    procs.netns_create(name)
    try:
        command = [
            procs.require_tool("ip"),
            "netns",
            "exec",
            name,
            sys.executable,
            "-m",
            "bench.archive_bench",
            *argv,
            "--inside-netns",
        ]
        child = subprocess.Popen(command, cwd=REPO)
        try:
            # The measurement bounds itself; this is the last resort.
            return child.wait(timeout=4 * 3600)
        finally:
            _end(child)
    finally:
        procs.netns_delete(name)


def _end(child: subprocess.Popen[bytes]) -> None:
    """Let the inner run clean up after itself (SIGTERM), kill it if it does not."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


# -- the run ------------------------------------------------------------------------------------


def run(args: argparse.Namespace, corpus: Corpus) -> dict[str, Any]:
    results: dict[str, Any] = {"meta": _meta(args, corpus)}
    if os.getloadavg()[0] > 0.5:
        print(f"warning: load average {os.getloadavg()[0]:.2f}: other work shares the CPUs")
    _warm_page_cache(corpus)
    with _work_dir(args.keep) as work:
        dest_port = procs.free_port()
        destination = storescp_destination(dest_port, work / "storescp.log")
        with procs.managed(destination):
            wait_listening(destination, dest_port)
            peers = {BENCH_AE: dest_port, DEST_AE: dest_port}
            if args.store_rounds:
                workers = [w.strip() for w in args.core_workers.split(",")]
                results.update(
                    store_rounds.run_rounds(
                        args.store_rounds, workers, args.orthanc, corpus, work, peers, _attempt
                    )
                )
                return results
            results["core"] = _bench_core(args, corpus, work, peers)
            if args.orthanc:
                results["orthanc"] = _bench_orthanc(args, corpus, work, peers)
            if any(_failed(results.get(label, {})) for label in ("core", "orthanc")):
                results["storescp_log_tail"] = _tail(destination.log_path)
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["comparison"] = report.compare(results["core"], results.get("orthanc"))
    if args.profile:
        results["profile"] = {
            path.stem: summarize(path) for path in sorted(args.profile.glob("core-*.txt"))
        }
    return results


@contextmanager
def _work_dir(keep: bool) -> Iterator[Path]:
    if keep:
        kept = Path(tempfile.mkdtemp(prefix="archive-bench-"))
        print(f"work dir kept: {kept}")
        yield kept
        return
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as temporary:
        yield Path(temporary)


def _bench_core(
    args: argparse.Namespace, corpus: Corpus, work: Path, peers: dict[str, int]
) -> dict[str, Any]:
    server = CoreServer(work / "core-data", work / "core-server.log")
    try:
        target = server.start()
        for ae_title, port in peers.items():
            server.register(ae_title, HOST, port)
        print(f"core-server up (pid {target.pid}, DICOM port {target.port})")
        figures = _measure_all(target, corpus, args)
        _note_log(figures, server.log_path)
        if args.fill:
            server.stop()
            filled = _fill(server, args.fill)
            started = time.monotonic()
            target = server.start()
            print(f"core-server restarted in {time.monotonic() - started:.1f} s")
            figures["large_index"] = {
                "fill": filled.summary(),
                "restart_seconds": round(time.monotonic() - started, 1),
                "find": _attempt(
                    target,
                    "C-FIND at large index",
                    lambda: _large_index_find(target, filled, args),
                    args.profile / "core-large_find.txt" if args.profile else None,
                    args.profile_gil,
                ),
            }
        return figures
    finally:
        server.stop()


def _bench_orthanc(
    args: argparse.Namespace, corpus: Corpus, work: Path, peers: dict[str, int]
) -> dict[str, Any]:
    server = OrthancServer(work / "orthanc", work / "orthanc.log", peers)
    try:
        target = server.start()
        print(f"Orthanc up (pid {target.pid}, DICOM port {target.port})")
        figures = _measure_all(target, corpus, args, profile=False)
        _note_log(figures, server.log_path)
        return figures
    finally:
        server.stop()


def _measure_all(
    target: Target, corpus: Corpus, args: argparse.Namespace, profile: bool = True
) -> dict[str, Any]:
    """Every measurement against one archive; a failed one is recorded as its error and the
    others still run."""
    first, second = corpus.set("a"), corpus.set("b")
    study = first.studies[0]  # the CT study: C-FIND, C-GET and C-MOVE work on it
    count = len(study.files)
    reps = args.retrieve_repetitions
    phases: list[tuple[str, str, Callable[[], Any]]] = [
        (
            "store_1",
            "C-STORE, 1 association",
            lambda: measure.store(target, first.files, 1, STORE_TIMEOUT),
        ),
        (
            "store_4",
            "C-STORE, 4 associations",
            lambda: measure.store(target, second.files, 4, STORE_TIMEOUT),
        ),
        (
            "stored",
            "stored instances checked",
            lambda: _check_stored(target, first.studies + second.studies),
        ),
        (
            "echo",
            "association + C-ECHO + release",
            lambda: measure.echo_latency(target, ECHO_REPETITIONS, FIND_TIME_LIMIT),
        ),
        (
            "find",
            "C-FIND",
            lambda: measure.find_latency(
                target, _small_queries(study), args.repetitions, FIND_TIME_LIMIT
            ),
        ),
        (
            "get",
            "C-GET",
            lambda: measure.get_study(target, study.study_uid, count, reps, RETRIEVE_TIMEOUT),
        ),
        (
            "move",
            "C-MOVE",
            lambda: measure.move_study(
                target, study.study_uid, DEST_AE, count, reps, RETRIEVE_TIMEOUT
            ),
        ),
    ]
    figures: dict[str, Any] = {}
    profiling = profile and args.profile is not None
    for key, what, action in phases:
        output = args.profile / f"{target.label}-{key}.txt" if profiling else None
        figures[key] = _attempt(target, what, action, output, args.profile_gil)
    return figures


def _attempt(
    target: Target,
    what: str,
    action: Callable[[], Any],
    profile_to: Path | None = None,
    gil: bool = False,
) -> Any:
    try:
        with Profiler(target.pid, profile_to, gil) if profile_to else _nothing():
            result = action()
    except Exception as exc:  # recorded, so that one broken service does not hide the rest
        result = {"error": f"{type(exc).__name__}: {exc}"}
    _say(target, what, result)
    return result


def _failed(figures: dict[str, Any]) -> bool:
    return any(isinstance(value, dict) and "error" in value for value in figures.values())


def _note_log(figures: dict[str, Any], log_path: Path) -> None:
    """Keep the end of the server's log in the results when a measurement failed."""
    if _failed(figures):
        figures["log_tail"] = _tail(log_path)


def _tail(path: Path, lines: int = 60) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _check_stored(target: Target, studies: list[Study]) -> dict[str, int]:
    """Image-level C-FIND per study: every instance sent must be there."""
    expected = sum(len(study.files) for study in studies)
    found = sum(measure.count_images(target, study.study_uid) for study in studies)
    if found != expected:
        raise RuntimeError(f"{target.label} holds {found} of the {expected} instances sent")
    return {"instances": found}


def _fill(server: CoreServer, total: int) -> FillReport:
    print(f"filling the index to {total} instances ...")
    filled = fill(server.database, total)
    print(f"filled: {filled.summary()}")
    return filled


# -- queries ------------------------------------------------------------------------------------


def study_query(**match: str) -> Dataset:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    for keyword in STUDY_KEYS:
        setattr(identifier, keyword, "")
    for keyword, value in match.items():
        setattr(identifier, keyword, value)
    return identifier


def image_query(study_uid: str, series_uid: str) -> Dataset:
    # Only attributes both archives keep in their index (Orthanc 1.10 would read every file
    # for SOPClassUID, as its StorageAccessOnFind is "Always" by default).
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "IMAGE"
    identifier.StudyInstanceUID = study_uid
    identifier.SeriesInstanceUID = series_uid
    identifier.SOPInstanceUID = ""
    identifier.InstanceNumber = ""
    return identifier


def _small_queries(study: Study) -> list[measure.Query]:
    return [
        measure.Query("study_by_patient_id", lambda _i: study_query(PatientID=study.patient_id)),
        measure.Query(
            "study_by_date_range", lambda _i: study_query(StudyDate=corpus_mod.DATE_RANGE)
        ),
        measure.Query(
            "image_one_series", lambda _i: image_query(study.study_uid, study.series_uid)
        ),
    ]


def _large_index_find(
    target: Target, filled: FillReport, args: argparse.Namespace
) -> dict[str, Any]:
    ids, names, dates = filled.patient_ids, filled.names, filled.dates

    def prefix(i: int) -> str:
        surname, given = names[i % len(names)].split("^", 1)
        return f"{surname}^{given[:2]}*"

    queries = [
        measure.Query("study_by_patient_id", lambda i: study_query(PatientID=ids[i % len(ids)])),
        measure.Query("study_by_patient_name_prefix", lambda i: study_query(PatientName=prefix(i))),
        measure.Query(
            "study_by_date_one_day",
            lambda i: study_query(StudyDate=f"{dates[i % len(dates)]}-{dates[i % len(dates)]}"),
        ),
    ]
    figures = measure.find_latency(target, queries, args.repetitions, FIND_TIME_LIMIT)
    print(report.large_index_table(figures))
    return figures


# -- output -------------------------------------------------------------------------------------


def _meta(args: argparse.Namespace, corpus: Corpus) -> dict[str, Any]:
    files = corpus.set("a").files
    return {
        "started": datetime.now().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "orthanc": args.orthanc,
        "instances_per_set": corpus.instances,
        "instance_bytes": corpus.size_bytes(files[:1]),
        "fill": args.fill,
        "find_repetitions": args.repetitions,
        "retrieve_repetitions": args.retrieve_repetitions,
        "profiled": bool(args.profile),
        "loadavg_start": os.getloadavg(),
        "git": _git_revision(),
    }


def _git_revision() -> str:
    """The commit measured, with ``+dirty`` when core_server/ has uncommitted changes."""

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO), *argv], capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "core_server")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def _warm_page_cache(corpus: Corpus) -> None:
    for corpus_set in corpus.sets.values():
        for name in corpus_set.files:
            Path(name).read_bytes()


def _say(target: Target, what: str, figures: Any) -> None:
    print(f"[{target.label}] {what}: {json.dumps(figures)}", flush=True)


def _print_results(results: dict[str, Any]) -> None:
    print()
    if "store_rounds" in results:
        print(report.rounds_table(results["comparison"]))
        return
    print(report.table(results["comparison"]))
    large = results["core"].get("large_index")
    if large:
        print(f"\nlarge index: {large['fill']}")
        print(report.large_index_table(large["find"]))


if __name__ == "__main__":
    sys.exit(main())
