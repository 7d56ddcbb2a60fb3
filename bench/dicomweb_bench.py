"""Benchmark of the core server's DICOMweb (QIDO-RS, WADO-RS), optionally against Debian's
Orthanc with its DICOMweb plugin (``orthanc-dicomweb``), same corpus, same clients, same run.

    .venv/bin/python -m bench.dicomweb_bench [--orthanc] [--out bench/results/NAME.json]

See bench/README.md ("DICOMweb benchmark") for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench import corpus as corpus_mod
from bench import measure, procs
from bench.corpus import Study
from bench.profile import Profiler, summarize
from bench.servers import HOST, CoreServer, OrthancServer, Target

REPO = Path(__file__).resolve().parents[1]
PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
STORE_TIMEOUT = 900.0
TIME_LIMIT = 120.0  # per measurement
SETTLE_LIMIT = 60.0  # seconds waiting for the servers to go idle after the store
SETTLE_MIN = 4.0
OCTET_STREAM = 'multipart/related; type="application/octet-stream"'
DICOM_PARTS = 'multipart/related; type="application/dicom"'
# (figure, lower is better?, target ratio core/orthanc or None)
TARGETS = {
    "qido_study_by_patient_id": 1.0,
    "qido_study_by_date_range": 1.0,
    "qido_instances_of_100_slice_series": 0.5,
    "rendered_frame": 1.5,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dicomweb_bench", description=__doc__)
    parser.add_argument("--orthanc", action="store_true", help="also measure Orthanc + DICOMweb")
    parser.add_argument("--repetitions", type=int, default=30, help="repetitions per request")
    parser.add_argument("--metadata-repetitions", type=int, default=5)
    parser.add_argument(
        "--only", help="only the measurements whose name contains this (comma-separated)"
    )
    parser.add_argument(
        "--profile", type=Path, help="py-spy the core during each measurement, stacks in DIR"
    )
    parser.add_argument("--out", type=Path, help="JSON results (default bench/results/...)")
    parser.add_argument(
        "--corpus-dir", type=Path, default=Path(tempfile.gettempdir()) / "archive-bench-corpus"
    )
    parser.add_argument("--inside-netns", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        args.out = REPO / "bench" / "results" / f"dicomweb-bench-{stamp}.json"
    return args


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminated)
    raw = sys.argv[1:] if argv is None else argv
    args = parse_args(raw)
    if args.orthanc and not args.inside_netns:
        missing = [
            why
            for why, ok in (
                ("Orthanc (apt-get install orthanc)", Path("/usr/sbin/Orthanc").exists()),
                (
                    f"its DICOMweb plugin {PLUGIN} (apt-get install orthanc-dicomweb)",
                    PLUGIN.exists(),
                ),
                ("root, for a network namespace", os.geteuid() == 0),
            )
            if not ok
        ]
        if missing:
            print("measuring the core only: Orthanc is not measured without " + ", ".join(missing))
            args.orthanc = False
        else:
            return _rerun_in_namespace(raw)
    # Two corpora of the archive bench: 800 (a 600-slice CT series for OHIF's MPR metadata)
    # and 400 (its MR series has 100 slices).
    large = corpus_mod.load_or_make(args.corpus_dir, 800).set("a")
    small = corpus_mod.load_or_make(args.corpus_dir, 400).set("a")
    results: dict[str, Any] = {"meta": _meta(args)}
    with tempfile.TemporaryDirectory(prefix="dicomweb-bench-") as temporary:
        work = Path(temporary)
        servers: list[Any] = [_Core(work)] + ([_Orthanc(work)] if args.orthanc else [])
        try:
            figures = _bench(
                servers, large.files + small.files, large.studies[0], small.studies[1], args
            )
        finally:
            for server in servers:
                server.stop()
    results.update(figures)
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["comparison"] = _compare(results["core"], results.get("orthanc"))
    if args.profile:
        results["profile"] = {p.stem: summarize(p) for p in sorted(args.profile.glob("core-*.txt"))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    _print(results["comparison"])
    print(f"\nresults written to {args.out}")
    return 0


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _rerun_in_namespace(argv: list[str]) -> int:
    """Orthanc binds 0.0.0.0: run both servers and the clients in a namespace of our own."""
    name = f"dwbench{os.getpid()}"
    procs.netns_create(name)
    try:
        command = [
            procs.require_tool("ip"),
            "netns",
            "exec",
            name,
            sys.executable,
            "-m",
            "bench.dicomweb_bench",
            *argv,
            "--inside-netns",
        ]
        child = subprocess.Popen(command, cwd=REPO)
        try:
            return child.wait(timeout=3600)
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(60)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(10)
    finally:
        procs.netns_delete(name)


# -- the servers ------------------------------------------------------------------------------


class _Core:
    label = "core"

    def __init__(self, work: Path) -> None:
        self.server = CoreServer(work / "core-data", work / "core-server.log")
        self.headers: dict[str, str] = {}

    def start(self) -> tuple[Target, str]:
        target = self.server.start()
        token = httpx.post(
            f"http://{HOST}:{self.server.http_port}/api/auth/token",
            data={"username": "admin", "password": self.server.password},
            timeout=30,
        )
        token.raise_for_status()
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        return target, f"http://{HOST}:{self.server.http_port}"

    def stop(self) -> None:
        self.server.stop()


class _OrthancDicomWeb(OrthancServer):
    def _config(self, http_port: int, dicom_port: int) -> dict[str, object]:
        config = super()._config(http_port, dicom_port)
        self.http_port = http_port
        config["Plugins"] = [str(PLUGIN)]
        config["DicomWeb"] = {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": True,
            "WadoRoot": "/wado",
        }
        return config


class _Orthanc:
    label = "orthanc"

    def __init__(self, work: Path) -> None:
        self.server = _OrthancDicomWeb(work / "orthanc", work / "orthanc.log", {})
        self.headers: dict[str, str] = {}

    def start(self) -> tuple[Target, str]:
        target = self.server.start()
        return target, f"http://{HOST}:{self.server.http_port}"

    def stop(self) -> None:
        self.server.stop()


# -- the measurements -------------------------------------------------------------------------


class _Under:
    """One archive under test: its process and an HTTP client on its DICOMweb root."""

    def __init__(self, server: Any, target: Target, http: httpx.Client) -> None:
        self.label = server.label
        self.target = target
        self.http = http


def _bench(
    servers: list[Any], files: list[str], ct600: Study, mr100: Study, args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Both archives run at once and each measurement alternates its requests between them,
    so that other work on the machine slows both alike."""
    figures: dict[str, dict[str, Any]] = {}
    under: list[_Under] = []
    for server in servers:
        target, base = server.start()
        print(f"{server.label} up (pid {target.pid})", flush=True)
        figures[server.label] = {"store": measure.store(target, files, 1, STORE_TIMEOUT)}
        # what it does after the store (the core makes series metadata ahead), on its own
        figures[server.label]["settle"] = _settle(target.pid)
        print(f"[{server.label}] settle: {json.dumps(figures[server.label]['settle'])}")
        http = httpx.Client(base_url=base + "/dicom-web", headers=server.headers, timeout=300)
        under.append(_Under(server, target, http))
    try:
        ct = f"/studies/{ct600.study_uid}/series/{ct600.series_uid}"
        mr = f"/studies/{mr100.study_uid}/series/{mr100.series_uid}"
        ct_sops = {u.label: _instances(u.http, ct600) for u in under}
        assert all(len(_instances(u.http, mr100)) == 100 for u in under)
        assert all(len(sops) == 600 for sops in ct_sops.values())
        reps = args.repetitions
        octet, dicom = OCTET_STREAM, DICOM_PARTS

        def frame(u: _Under, i: int, end: str, accept: str) -> bytes:
            sops = ct_sops[u.label]
            return _get(u.http, f"{ct}/instances/{sops[i % len(sops)]}/{end}", accept)

        phases: list[tuple[str, int, int, Callable[[_Under, int], Any]]] = [
            (
                "qido_study_by_patient_id",
                reps,
                4,
                lambda u, i: _json(u.http, "/studies", {"PatientID": mr100.patient_id}),
            ),
            (
                "qido_study_by_date_range",
                reps,
                4,
                lambda u, i: _json(u.http, "/studies", {"StudyDate": corpus_mod.DATE_RANGE}),
            ),
            (
                "qido_instances_of_100_slice_series",
                reps,
                100,
                lambda u, i: _json(u.http, f"{mr}/instances"),
            ),
            ("metadata_600_first", 1, 600, lambda u, i: _json(u.http, f"{ct}/metadata")),
            (
                "metadata_600_again",
                args.metadata_repetitions,
                600,
                lambda u, i: _json(u.http, f"{ct}/metadata"),
            ),
            ("rendered_frame", reps, 1, lambda u, i: frame(u, i, "rendered", "image/jpeg")),
            # a viewer showing a slice again (the core caches rendered images; Orthanc does not)
            (
                "rendered_frame_again",
                reps,
                1,
                lambda u, i: frame(u, 0, "rendered", "image/jpeg"),
            ),
            ("frame_octet_stream", reps, 1, lambda u, i: frame(u, -1 - i, "frames/1", octet)),
            ("retrieve_100_instances", 3, 1, lambda u, i: _get(u.http, mr, dicom)),
        ]
        wanted = [w for w in (args.only or "").split(",") if w]
        for key, repetitions, expected, request in phases:
            if wanted and not any(w in key for w in wanted):
                continue
            profiled = args.profile / f"core-{key}.txt" if args.profile else None
            try:
                with Profiler(under[0].target.pid, profiled) if profiled else nullcontext():
                    measured = _latency(under, repetitions, request, expected)
            except Exception as exc:  # recorded; the other measurements still run
                measured = {u.label: {"error": f"{type(exc).__name__}: {exc}"} for u in under}
            for u in under:
                figures[u.label][key] = measured[u.label]
                print(f"[{u.label}] {key}: {json.dumps(measured[u.label])}", flush=True)
    finally:
        for u in under:
            u.http.close()
    return figures


def _settle(pid: int) -> dict[str, float]:
    """Wait (SETTLE_MIN to SETTLE_LIMIT) until the server uses under 5 % of a CPU over a second: the
    work it does after the store (the core encodes the new series' metadata) is then counted
    here, not in the first measurement that happens to run beside it."""
    started = time.monotonic()
    first = last = procs.cpu_seconds(pid)
    while time.monotonic() - started < SETTLE_LIMIT:
        time.sleep(1.0)
        now = procs.cpu_seconds(pid)
        # (at least SETTLE_MIN: the core waits 2 s of quiet before making metadata ahead)
        if now - last < 0.05 and time.monotonic() - started >= SETTLE_MIN:
            break
        last = now
    return {
        "seconds": round(time.monotonic() - started, 1),
        "server_cpu_s": round(procs.cpu_seconds(pid) - first, 2),
    }


def _instances(http: httpx.Client, study: Study) -> list[str]:
    answer = _json(http, f"/studies/{study.study_uid}/series/{study.series_uid}/instances")
    return [a["00080018"]["Value"][0] for a in answer]


def _json(http: httpx.Client, path: str, params: dict[str, str] | None = None) -> Any:
    answer = http.get(path, params=params, headers={"Accept": "application/dicom+json"})
    answer.raise_for_status()
    return answer.json()


def _get(http: httpx.Client, path: str, accept: str) -> bytes:
    answer = http.get(path, headers={"Accept": accept})
    answer.raise_for_status()
    if not answer.content:
        raise RuntimeError(f"{path}: empty answer")
    return answer.content


def _latency(
    under: list[_Under], repetitions: int, request: Callable[[_Under, int], Any], expected: int
) -> dict[str, dict[str, Any]]:
    """One untimed warm-up each (except for a single repetition: that one is the cold
    figure), then ``repetitions`` timed requests, alternating between the archives; checks
    the answer size (matches, instances or bytes)."""
    if repetitions > 1:
        for u in under:
            request(u, 0)
    times: dict[str, list[float]] = {u.label: [] for u in under}
    sizes: dict[str, int] = {}
    cpu = {u.label: procs.cpu_seconds(u.target.pid) for u in under}
    deadline = time.monotonic() + TIME_LIMIT
    for i in range(repetitions):
        for u in under:
            started = time.perf_counter()
            answer = request(u, i + 1)
            times[u.label].append(time.perf_counter() - started)
            if isinstance(answer, list) and len(answer) != expected:
                raise RuntimeError(f"{u.label}: expected {expected} answers, got {len(answer)}")
            sizes[u.label] = len(answer)
        if time.monotonic() > deadline:
            break
    figures = {}
    for u in under:
        taken = sorted(times[u.label])
        used = procs.cpu_seconds(u.target.pid) - cpu[u.label]
        figures[u.label] = {
            "repetitions": len(taken),
            "median_ms": round(1000 * statistics.median(taken), 2),
            "p95_ms": round(1000 * taken[min(len(taken) - 1, int(0.95 * len(taken)))], 2),
            "min_ms": round(1000 * taken[0], 2),
            "answer_size": sizes[u.label],
            "server_cpu_ms_per_request": round(1000 * used / len(taken), 2),
        }
    return figures


# -- output -----------------------------------------------------------------------------------


def _compare(core: dict[str, Any], orthanc: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = []
    for key, ours in core.items():
        if key in ("store", "settle") or not isinstance(ours, dict):
            continue
        theirs = (orthanc or {}).get(key, {})
        ratio = _ratio(ours.get("median_ms"), theirs.get("median_ms"))
        target = TARGETS.get(key)
        rows.append(
            {
                "measurement": key,
                "core_ms": ours.get("median_ms"),
                "orthanc_ms": theirs.get("median_ms"),
                "core/orthanc": ratio,
                "core_cpu_ms": ours.get("server_cpu_ms_per_request"),
                "orthanc_cpu_ms": theirs.get("server_cpu_ms_per_request"),
                "target": f"<= {target}" if target else "",
                "met": None if ratio is None or target is None else ratio <= target,
                "error": ours.get("error") or theirs.get("error"),
            }
        )
    return rows


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return round(ours / theirs, 2) if ours and theirs else None


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'median ms (server CPU ms)':<36}{'core':>18}{'orthanc':>18}{'ratio':>7}  target")

    def num(value: Any, cpu: Any) -> str:
        return "-" if value is None else f"{value:.1f} ({cpu if cpu is not None else '-'})"

    for row in rows:
        met = "" if row["met"] is None else (" met" if row["met"] else " NOT met")
        ratio = "-" if row["core/orthanc"] is None else f"{row['core/orthanc']:.2f}"
        print(
            f"{row['measurement']:<36}{num(row['core_ms'], row['core_cpu_ms']):>18}"
            f"{num(row['orthanc_ms'], row['orthanc_cpu_ms']):>18}{ratio:>7}"
            f"  {row['target']}{met}" + (f"  error: {row['error']}" if row["error"] else "")
        )


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO), *argv], capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "core_server")
    return {
        "started": datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "orthanc": args.orthanc,
        "repetitions": args.repetitions,
        "loadavg_start": os.getloadavg(),
        "git": git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else ""),
    }


if __name__ == "__main__":
    sys.exit(main())
