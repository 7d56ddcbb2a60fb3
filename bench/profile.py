"""Sampling our server with py-spy during a measurement, and summing where the time goes.

py-spy writes "raw" collapsed stacks (``frame;frame;... count``); idle threads (sleeping,
waiting on a lock or a socket) are left out by py-spy, so the counts are busy samples.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any


class Profiler:
    """py-spy on ``pid`` for the ``with`` block. ``gil=True`` samples only the thread holding
    the GIL (where Python spends CPU); otherwise every thread that is not idle (CPU work, and
    blocking system calls such as fsync)."""

    def __init__(self, pid: int, output: Path, gil: bool = False, rate: int = 200) -> None:
        self.pid = pid
        self.output = output
        self.gil = gil
        self.rate = rate
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        py_spy = shutil.which("py-spy") or str(Path(sys.prefix) / "bin" / "py-spy")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            py_spy,
            "record",
            "--pid",
            str(self.pid),
            "--format",
            "raw",
            "--rate",
            str(self.rate),
            "--nonblocking",
            "--output",
            str(self.output),
            *(["--gil"] if self.gil else []),
        ]
        self._process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # py-spy attaches
        return self

    def __exit__(self, *_exc: object) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def summarize(raw: Path, top: int = 20) -> dict[str, Any]:
    """Inclusive and self share of the busy samples per function (file:line dropped)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    if not raw.is_file():
        return {"samples": 0}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";") if frame]
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {"samples": total, "inclusive_pct": share(inclusive), "self_pct": share(own)}


def _function(frame: str) -> str:
    """``name (path/to/file.py:123)`` -> ``name (file.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if parts else path
    return f"{name} ({short})"
