"""The measurements: C-STORE (dcmtk storescu), C-FIND (one pynetdicom association), C-GET
(dcmtk getscu, discarding) and C-MOVE (pynetdicom SCU to a discarding storescp).

Each figure records the server's CPU time (utime + stime from ``/proc``) over the run.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from bench.procs import bench_env, cpu_seconds, require_tool, tree_cpu_seconds
from bench.servers import BENCH_AE, Target

MB = 1_000_000
PENDING = (0xFF00, 0xFF01)


@dataclass(frozen=True)
class Query:
    """A C-FIND to repeat; ``make(i)`` builds the identifier of repetition ``i``."""

    name: str
    make: Callable[[int], Dataset]


# -- C-STORE ------------------------------------------------------------------------------------


def store(target: Target, files: list[str], associations: int, timeout: float) -> dict[str, Any]:
    """Send ``files`` with ``associations`` storescu processes at once (the files split in
    contiguous parts), timed from the first start to the last exit."""
    parts = [
        files[len(files) * i // associations : len(files) * (i + 1) // associations]
        for i in range(associations)
    ]
    size = sum(Path(f).stat().st_size for f in files)
    storescu = require_tool("storescu")
    cpu_before = tree_cpu_seconds(target.pid)  # with the DICOM worker processes
    children_before = _children_cpu()
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                storescu,
                "-R",
                "-aet",
                BENCH_AE,
                "-aec",
                target.ae_title,
                target.host,
                str(target.port),
                *part,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=bench_env(),
        )
        for part in parts
    ]
    outputs = _wait_all(processes, started + timeout)
    elapsed = time.perf_counter() - started
    server_cpu = tree_cpu_seconds(target.pid) - cpu_before
    failed = [out for proc, out in zip(processes, outputs, strict=True) if proc.returncode]
    if failed:
        raise RuntimeError(f"storescu failed against {target.label}:\n{failed[0][-2000:]}")
    return {
        "associations": associations,
        "instances": len(files),
        "megabytes": round(size / MB, 1),
        "seconds": round(elapsed, 3),
        "instances_per_s": round(len(files) / elapsed, 1),
        "mb_per_s": round(size / MB / elapsed, 1),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_instance": round(1000 * server_cpu / len(files), 2),
        "client_cpu_s": round(_children_cpu() - children_before, 2),
    }


def _wait_all(processes: list[subprocess.Popen[bytes]], deadline: float) -> list[str]:
    outputs = []
    try:
        for proc in processes:
            out, _ = proc.communicate(timeout=max(1.0, deadline - time.perf_counter()))
            outputs.append(out.decode(errors="replace"))
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    return outputs


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- C-FIND -------------------------------------------------------------------------------------


@contextlib.contextmanager
def association(target: Target, *contexts: str) -> Iterator[Association]:
    """One association from the bench's AE, Nagle off on its socket; released on exit."""
    ae = AE(ae_title=BENCH_AE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 120
    for context in contexts:
        ae.add_requested_context(context)
    assoc = ae.associate(
        target.host,
        target.port,
        ae_title=target.ae_title,
        evt_handlers=[(evt.EVT_CONN_OPEN, _nodelay)],
    )
    if not assoc.is_established:
        raise RuntimeError(f"{target.label}: association refused or aborted")
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()
        ae.shutdown()


def _nodelay(event: evt.Event) -> None:
    sock = event.assoc.dul.socket.socket if event.assoc.dul.socket else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def find_once(assoc: Association, identifier: Dataset) -> int:
    """Send one C-FIND and read every answer; returns the number of matches."""
    matches = 0
    for status, _answer in assoc.send_c_find(
        identifier, StudyRootQueryRetrieveInformationModelFind
    ):
        code = getattr(status, "Status", None)
        if code in PENDING:
            matches += 1
        elif code != 0x0000:
            raise RuntimeError(f"C-FIND failed: status {code!r}")
    return matches


def find_latency(
    target: Target, queries: list[Query], repetitions: int, time_limit: float
) -> dict[str, Any]:
    """Median and p95 latency of each query over ``repetitions`` (or ``time_limit`` seconds,
    whichever ends first), all on one association; one untimed warm-up call each."""
    figures: dict[str, Any] = {}
    with association(target, StudyRootQueryRetrieveInformationModelFind) as assoc:
        for query in queries:
            find_once(assoc, query.make(-1))
            times, counts = [], []
            deadline = time.monotonic() + time_limit
            cpu_before = cpu_seconds(target.pid)
            for i in range(repetitions):
                if time.monotonic() > deadline:
                    break
                identifier = query.make(i)
                started = time.perf_counter()
                counts.append(find_once(assoc, identifier))
                times.append(1000 * (time.perf_counter() - started))
            cpu = cpu_seconds(target.pid) - cpu_before
            figures[query.name] = _latency(times, counts, cpu)
    return figures


def _latency(times: list[float], counts: list[int], server_cpu: float) -> dict[str, Any]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "repetitions": len(times),
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "min_ms": round(ordered[0], 2),
        "matches_mean": round(statistics.fmean(counts), 1),
        "server_cpu_ms_per_query": round(1000 * server_cpu / len(times), 2),
    }


def echo_latency(target: Target, repetitions: int, time_limit: float) -> dict[str, Any]:
    """Open an association, C-ECHO, release: what every C-MOVE sub-association, C-GET and
    short-lived modality connection pays before any work is done."""
    times = []
    deadline = time.monotonic() + time_limit
    cpu_before = cpu_seconds(target.pid)
    for _ in range(repetitions):
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        with association(target, Verification) as assoc:
            status = assoc.send_c_echo()
            if getattr(status, "Status", None) != 0x0000:
                raise RuntimeError(f"C-ECHO to {target.label} failed")
        times.append(1000 * (time.perf_counter() - started))
    cpu = cpu_seconds(target.pid) - cpu_before
    figures = _latency(times, [1] * len(times), cpu)
    del figures["matches_mean"]
    return figures


def count_images(target: Target, study_uid: str) -> int:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "IMAGE"
    identifier.StudyInstanceUID = study_uid
    identifier.SeriesInstanceUID = ""
    identifier.SOPInstanceUID = ""
    with association(target, StudyRootQueryRetrieveInformationModelFind) as assoc:
        return find_once(assoc, identifier)


# -- C-GET and C-MOVE ---------------------------------------------------------------------------


def _study_identifier(study_uid: str) -> Dataset:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    return identifier


def get_study(
    target: Target, study_uid: str, expected: int, repetitions: int, timeout: float
) -> dict[str, Any]:
    """C-GET of a whole study by dcmtk getscu, which receives and discards (``--ignore``)."""
    getscu = require_tool("getscu")
    argv = [
        getscu,
        "-v",
        "-S",
        "--ignore",
        "-aet",
        BENCH_AE,
        "-aec",
        target.ae_title,
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        f"StudyInstanceUID={study_uid}",
        target.host,
        str(target.port),
    ]

    def once() -> int:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=bench_env(), check=False
        )
        if done.returncode:
            raise RuntimeError(
                f"getscu failed against {target.label}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        return _completed_from_log(done.stdout + done.stderr)

    return _retrieve(target, once, expected, repetitions, timeout)


def move_study(
    target: Target,
    study_uid: str,
    destination: str,
    expected: int,
    repetitions: int,
    timeout: float,
) -> dict[str, Any]:
    """C-MOVE of a whole study to ``destination``, one pynetdicom association per move."""

    def once() -> int:
        completed = 0
        with association(target, StudyRootQueryRetrieveInformationModelMove) as assoc:
            for status, _ in assoc.send_c_move(
                _study_identifier(study_uid),
                destination,
                StudyRootQueryRetrieveInformationModelMove,
            ):
                code = getattr(status, "Status", None)
                if code is None:
                    raise RuntimeError(f"C-MOVE from {target.label}: no response")
                if code not in PENDING:
                    if code != 0x0000:
                        raise RuntimeError(f"C-MOVE from {target.label}: status 0x{code:04X}")
                    completed = int(status.get("NumberOfCompletedSuboperations", expected))
        return completed

    return _retrieve(target, once, expected, repetitions, timeout)


def _retrieve(
    target: Target, once: Callable[[], int], expected: int, repetitions: int, timeout: float
) -> dict[str, Any]:
    """Time ``repetitions`` whole-study retrieves; a failed one is counted and reported (the
    figures come from the others), and only when all fail does the measurement fail."""
    rates, cpu, errors = [], [], []
    deadline = time.monotonic() + timeout
    for _ in range(repetitions):
        if time.monotonic() > deadline:
            break
        cpu_before = cpu_seconds(target.pid)
        started = time.perf_counter()
        try:
            completed = once()
            if completed != expected:
                raise RuntimeError(f"{completed} of {expected} instances retrieved")
        except Exception as exc:
            errors.append(
                f"{type(exc).__name__}: {exc} after {time.perf_counter() - started:.1f} s"
            )
            continue
        elapsed = time.perf_counter() - started
        cpu.append(cpu_seconds(target.pid) - cpu_before)
        rates.append(expected / elapsed)
    if not rates:
        raise RuntimeError(f"{target.label}: every retrieve failed: {errors}")
    return {
        "instances": expected,
        "repetitions": len(rates),
        "instances_per_s": round(statistics.median(rates), 1),
        "best_instances_per_s": round(max(rates), 1),
        "server_cpu_ms_per_instance": round(1000 * statistics.median(cpu) / expected, 2),
        "failed_runs": len(errors),
        "errors": errors,
    }


def _completed_from_log(log: str) -> int:
    """The completed sub-operations that getscu's verbose log reports last."""
    completed = -1
    for line in log.splitlines():
        if "Completed Suboperations" in line or "completed sub-operations" in line.lower():
            digits = "".join(ch for ch in line.split(":")[-1] if ch.isdigit())
            if digits:
                completed = int(digits)
    return completed
