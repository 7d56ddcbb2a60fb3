"""Capture station benchmark: the real program (testsrc grabber, an events FIFO as the pedal,
no core: the sender keeps retrying, which is the offline case) measured from outside.

- pedal-to-still-on-disk: a press written to the FIFO -> its capture record on disk (the JPEG
  and the record are fsynced before the record appears); p50/p95 over N presses;
- burst: stills per second of one burst (the keys carry the moment each was taken, in ns);
- RSS while recording a clip (VmRSS sampled every 0.1 s during a pedal clip of --clip
  seconds, and VmHWM after it);
- preview frames/s: the station's own grabber thread on testsrc at 25 fps and its screen
  (``ui.draw`` + flip, SDL's dummy driver, the window size of the program), in this process.

    .venv/bin/python bench/capture_station.py [--presses 40] [--size 768x576] [--clip 5]
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
KEY = {"still": 48, "burst": 46, "clip": 30}  # KEY_B, KEY_C, KEY_A


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


def memory(pid: int, field: str) -> int:
    """A /proc/<pid>/status figure in kB."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith(field + ":"))
    return int(line.split()[1])


def record_clip(fd: int, pid: int, folder: Path, seconds: float) -> tuple[int, int, int]:
    """A pedal clip of ``seconds``: the peak VmRSS while it records, VmHWM after, frames."""
    press(fd, KEY["clip"])
    peak, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        peak = max(peak, memory(pid, "VmRSS"))
        time.sleep(0.1)
    before = len(records(folder))
    press(fd, KEY["clip"])
    wait_new(folder, before + 1, 30)
    clip = max(records(folder), key=lambda p: p.stem)
    frames = int(json.loads(clip.read_text(encoding="utf-8"))["frames"])
    return peak, memory(pid, "VmHWM"), frames


def preview_rate(size: str, seconds: float = 5.0) -> tuple[float, float]:
    """Frames drawn a second (a new grabber frame each) and the mean ms one drawing takes."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    # This script's own name hides the package: import it from the project's root.
    sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p).resolve() != Path(__file__).parent)]
    from capture_station import ui
    from capture_station.app import CaptureApp
    from capture_station.grabber import Grabber
    from capture_station.hardware.video import make_video_source
    from device_kit.i18n import Messages
    from device_kit.screen import open_window

    width, height = (int(n) for n in size.split("x"))
    canvas = open_window((1280, 720), False, "bench")
    text = Messages("capture_station", "zh")
    grabber = Grabber(make_video_source(f"testsrc:{size}@25", size=(width, height), fps=25))
    grabber.start()
    machine, shown, drawn, busy = CaptureApp(), -1, 0, 0.0
    try:
        while grabber.latest is None:
            time.sleep(0.01)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            frame = grabber.latest
            if frame is not None and frame.index != shown:
                began = time.perf_counter()
                ui.draw(canvas, machine, text, frame.pixels)
                canvas.show()
                busy += time.perf_counter() - began
                shown, drawn = frame.index, drawn + 1
            time.sleep(0.004)  # the main loop's other work; pygame's clock ticks at 25-60
    finally:
        grabber.stop()
    return drawn / seconds, busy / max(drawn, 1) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--size", default="768x576")
    parser.add_argument("--clip", type=float, default=5.0, help="seconds of the clip recorded")
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
                                                     "KEY_E": "emergency", "KEY_A": "clip"}),
           "CAPTURE_STATION_PEDAL_LONG": "{}", "CAPTURE_STATION_LOG_LEVEL": "WARNING",
           "CAPTURE_STATION_SCOPE_CHECK": "false",
           "CAPTURE_STATION_LIVE_FEED": "false"}  # fmt: skip
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
        hwm = memory(process.pid, "VmHWM")
        clip_rss, clip_hwm, clip_frames = record_clip(fd, process.pid, folder, args.clip)
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
    print(f"memory: {hwm / 1024:.0f} MB VmHWM before the clip")
    print(f"clip of {args.clip:g} s ({clip_frames} frames): VmRSS peak while recording "
          f"{clip_rss / 1024:.0f} MB, VmHWM after {clip_hwm / 1024:.0f} MB "
          "(goal < 250 MB)")  # fmt: skip
    rate, cost = preview_rate(args.size)
    print(f"preview: {rate:.1f} frames/s drawn from testsrc {args.size}@25 into 1280x720, "
          f"{cost:.1f} ms a drawing")  # fmt: skip


if __name__ == "__main__":
    main()
