"""C-STORE throughput over DICOM TLS vs cleartext: the same files sent by dcmtk's storescu
(one association per run) to one core serving both ports, runs interleaved, medians compared
(issue 17's goal: TLS within 20 % of cleartext).

    .venv/bin/python bench/tls_store.py [--files 200] [--runs 5] [--size 256]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core_server.tls import Files, certificates
from tests.core_server.tls.conftest import NAMES, TlsCore
from tests.dicom_data import make_ct, write

ENV = {"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"}


def send(port: int, files: list[Path], tls: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["storescu", *tls, "-aec", "PACS", "127.0.0.1", str(port), *map(str, files)],
        check=True,
        capture_output=True,
        env=ENV,
        timeout=600,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=256, help="image rows = columns (16-bit)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "core"
        files_ = Files(
            data / "tls" / "server.pem", data / "tls" / "server.key", data / "tls" / "ca.pem"
        )
        certificates.init(files_, NAMES)
        core = TlsCore(data, cleartext=True).start()
        try:
            times: dict[str, list[float]] = {"clear": [], "tls": []}
            tls = ["+tla", "+cf", core.ca]
            for run in range(args.runs):
                folder = Path(tmp) / f"run{run}"
                batch = [
                    write(make_ct(patient_id=f"B{run}", size=args.size, instance_number=i), folder)
                    for i in range(args.files)
                ]
                half = len(batch) // 2  # new UIDs each run: every object is really stored
                order = [("clear", batch[:half]), ("tls", batch[half:])]
                if run % 2:
                    order.reverse()
                for kind, chunk in order:
                    port = (
                        core.settings.dicom_tls_port if kind == "tls" else core.settings.dicom_port
                    )
                    times[kind].append(len(chunk) / send(port, chunk, tls if kind == "tls" else []))
        finally:
            core.stop()
    clear, secure = statistics.median(times["clear"]), statistics.median(times["tls"])
    size = args.size * args.size * 2 / 1024
    print(f"{args.files // 2} x {size:.0f} kB per run, {args.runs} runs, medians:")
    print(f"  cleartext {clear:.0f} instances/s, TLS {secure:.0f} instances/s")
    print(f"  TLS/cleartext {secure / clear:.2f} (goal >= 0.80)")


if __name__ == "__main__":
    main()
