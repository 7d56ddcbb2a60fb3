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
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench import corpus as corpus_mod
from bench import measure, procs
from bench.corpus import Study
from bench.servers import HOST, CoreServer, OrthancServer, Target

REPO = Path(__file__).resolve().parents[1]
PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
STORE_TIMEOUT = 900.0
TIME_LIMIT = 120.0  # per measurement
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
        files = large.files + small.files
        results["core"] = _bench(_Core(work), files, large.studies[0], small.studies[1], args)
        if args.orthanc:
            results["orthanc"] = _bench(
                _Orthanc(work), files, large.studies[0], small.studies[1], args
            )
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["comparison"] = _compare(results["core"], results.get("orthanc"))
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


def _bench(
    server: Any, files: list[str], ct600: Study, mr100: Study, args: argparse.Namespace
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    try:
        target, base = server.start()
        print(f"{server.label} up (pid {target.pid})", flush=True)
        figures["store"] = measure.store(target, files, 1, STORE_TIMEOUT)
        with httpx.Client(
            base_url=base + "/dicom-web", headers=server.headers, timeout=300
        ) as http:
            ct = f"/studies/{ct600.study_uid}/series/{ct600.series_uid}"
            mr = f"/studies/{mr100.study_uid}/series/{mr100.series_uid}"
            sops = _instances(http, mr100)
            ct_sops = _instances(http, ct600)
            reps = args.repetitions
            phases: list[tuple[str, Callable[[], dict[str, Any]]]] = [
                (
                    "qido_study_by_patient_id",
                    lambda: _latency(
                        target,
                        reps,
                        lambda i: _json(http, "/studies", {"PatientID": mr100.patient_id}),
                        4,
                    ),
                ),
                (
                    "qido_study_by_date_range",
                    lambda: _latency(
                        target,
                        reps,
                        lambda i: _json(http, "/studies", {"StudyDate": corpus_mod.DATE_RANGE}),
                        4,
                    ),
                ),
                (
                    "qido_instances_of_100_slice_series",
                    lambda: _latency(
                        target,
                        reps,
                        lambda i: _json(http, f"{mr}/instances"),
                        100,
                    ),
                ),
                (
                    "metadata_600_first",
                    lambda: _latency(
                        target,
                        1,
                        lambda i: _json(http, f"{ct}/metadata"),
                        600,
                    ),
                ),
                (
                    "metadata_600_again",
                    lambda: _latency(
                        target,
                        args.metadata_repetitions,
                        lambda i: _json(http, f"{ct}/metadata"),
                        600,
                    ),
                ),
                (
                    "rendered_frame",
                    lambda: _latency(
                        target,
                        reps,
                        lambda i: _get(
                            http,
                            f"{ct}/instances/{ct_sops[i % len(ct_sops)]}/rendered",
                            "image/jpeg",
                        ),
                        1,
                    ),
                ),
                (
                    "frame_octet_stream",
                    lambda: _latency(
                        target,
                        reps,
                        lambda i: _get(
                            http,
                            f"{ct}/instances/{ct_sops[-1 - i % len(ct_sops)]}/frames/1",
                            OCTET_STREAM,
                        ),
                        1,
                    ),
                ),
                (
                    "retrieve_100_instances",
                    lambda: _latency(
                        target,
                        3,
                        lambda i: _get(
                            http,
                            mr,
                            DICOM_PARTS,
                        ),
                        1,
                    ),
                ),
            ]
            assert len(sops) == 100 and len(ct_sops) == 600, (len(sops), len(ct_sops))
            for key, action in phases:
                try:
                    figures[key] = action()
                except Exception as exc:  # recorded; the other measurements still run
                    figures[key] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"[{server.label}] {key}: {json.dumps(figures[key])}", flush=True)
    finally:
        server.stop()
    return figures


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
    target: Target, repetitions: int, request: Callable[[int], Any], expected: int
) -> dict[str, Any]:
    """One untimed warm-up (except for a single repetition: that one is the cold figure), then
    ``repetitions`` timed requests; checks the answer size (matches or instances)."""
    if repetitions > 1:
        request(0)
    times, sizes = [], []
    cpu_before = procs.cpu_seconds(target.pid)
    deadline = time.monotonic() + TIME_LIMIT
    for i in range(repetitions):
        started = time.perf_counter()
        answer = request(i + 1)
        times.append(time.perf_counter() - started)
        sizes.append(len(answer))
        if time.monotonic() > deadline:
            break
    server_cpu = procs.cpu_seconds(target.pid) - cpu_before
    if isinstance(answer, list) and len(answer) != expected:
        raise RuntimeError(f"expected {expected} answers, got {len(answer)}")
    ordered = sorted(times)
    return {
        "repetitions": len(times),
        "median_ms": round(1000 * statistics.median(times), 2),
        "p95_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "min_ms": round(1000 * ordered[0], 2),
        "answer_size": sizes[-1],
        "server_cpu_ms_per_request": round(1000 * server_cpu / len(times), 2),
    }


# -- output -----------------------------------------------------------------------------------


def _compare(core: dict[str, Any], orthanc: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = []
    for key, value in core.items():
        if key == "store" or not isinstance(value, dict):
            continue
        ours = value.get("median_ms")
        theirs = (orthanc or {}).get(key, {}).get("median_ms")
        ratio = round(ours / theirs, 2) if ours and theirs else None
        target = TARGETS.get(key)
        rows.append(
            {
                "measurement": key,
                "core_ms": ours,
                "orthanc_ms": theirs,
                "core/orthanc": ratio,
                "target": f"<= {target}" if target else "",
                "met": None if ratio is None or target is None else ratio <= target,
                "error": value.get("error") or (orthanc or {}).get(key, {}).get("error"),
            }
        )
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'measurement (median ms)':<38}{'core':>10}{'orthanc':>10}{'ratio':>8}  target")
    for row in rows:

        def num(v: Any) -> str:
            return "-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)

        met = "" if row["met"] is None else (" met" if row["met"] else " NOT met")
        print(
            f"{row['measurement']:<38}{num(row['core_ms']):>10}{num(row['orthanc_ms']):>10}"
            f"{num(row['core/orthanc']):>8}  {row['target']}{met}"
            + (f"  error: {row['error']}" if row["error"] else "")
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
