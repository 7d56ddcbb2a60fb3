"""Capture station benchmark: the real program (testsrc grabber, an events FIFO as the pedal,
no core: the sender keeps retrying, which is the offline case) measured from outside.

- pedal-to-still-on-disk: a press written to the FIFO -> its capture record on disk (the JPEG
  and the record are fsynced before the record appears); p50/p95 over N presses;
- burst: stills per second of one burst (the keys carry the moment each was taken, in ns);
- RSS (VmHWM) of the process at the end.

    .venv/bin/python bench/capture_station.py [--presses 40] [--size 768x576]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = {"still": 48, "burst": 46}  # KEY_B, KEY_C


def press(fd: int, code: int) -> None:
    events = ((1, code, 1), (0, 0, 0), (1, code, 0), (0, 0, 0))
    os.write(fd, b"".join(struct.pack("llHHi", 0, 0, t, c, v) for t, c, v in events))


def records(folder: Path) -> list[Path]:
    return [p for p in folder.glob("*.json") if p.name != "session.json"]


def wait_new(folder: Path, count: int, timeout: float = 10.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if len(records(folder)) >= count:
            return time.perf_counter()
        time.sleep(0.0005)
    raise SystemExit(f"no capture record after {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--size", default="768x576")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    subprocess.run([sys.executable, "-m", "capture_station", "--state-dir", str(state), "enrol",
                    "--core-url", "http://127.0.0.1:9", "--key", "bench"], check=True,
                   capture_output=True)  # fmt: skip
    fifo = state / "pedal"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "CAPTURE_STATION_PEDAL_KEYS": json.dumps({"KEY_B": "still", "KEY_C": "burst",
                                                     "KEY_E": "emergency"}),
           "CAPTURE_STATION_PEDAL_LONG": "{}", "CAPTURE_STATION_LOG_LEVEL": "WARNING"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "capture_station", "--state-dir", str(state), "run",
         "--video-source", f"testsrc:{args.size}@25", "--pedal", f"events:{fifo}",
         "--window-size", "1280x720"],
        env=env, cwd=ROOT, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    folder = state / "captures"
    try:
        # An emergency patient, then one still until the grabber delivers.
        while not (folder / "session.json").exists():
            press(fd, 18)
            time.sleep(0.3)
        while not records(folder):
            press(fd, KEY["still"])
            time.sleep(0.5)
        latencies = []
        for _ in range(args.presses):
            before = len(records(folder))
            time.sleep(0.1)  # a sonographer's pace, not a queue of presses
            start = time.perf_counter()
            press(fd, KEY["still"])
            latencies.append((wait_new(folder, before + 1) - start) * 1000)
        before = len(records(folder))
        time.sleep(0.2)
        start = time.perf_counter()
        press(fd, KEY["burst"])
        burst_seconds = wait_new(folder, before + 5) - start
        burst = 5 / burst_seconds
        # The spool's own rate: the frames are gathered first, then encoded and fsynced.
        keys = sorted(p.stem for p in records(folder))[-5:]
        moments = [int(k.split("-")[0]) / 1e9 for k in keys]
        spool_rate = (len(moments) - 1) / (moments[-1] - moments[0])
        status = Path(f"/proc/{process.pid}/status").read_text()
        hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
    finally:
        process.terminate()
        process.wait(10)
        os.close(fd)
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(f"frames {args.size}, {args.presses} presses")
    print(f"pedal-to-still-on-disk ms: p50 {statistics.median(latencies):.1f}, p95 {p95:.1f}, "
          f"max {latencies[-1]:.1f}")  # fmt: skip
    print(f"burst of 5: {burst:.1f} stills/s press to last on disk (source 25 fps); "
          f"encode+fsync {spool_rate:.0f} stills/s")  # fmt: skip
    print(f"memory: {hwm.split(':')[1].strip()} (VmHWM)")


if __name__ == "__main__":
    main()
