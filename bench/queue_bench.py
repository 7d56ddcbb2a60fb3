"""Queue system timings with every part its own process (the core and the three device
programs as installed, see tests/e2e/queue_system.py):

- call-next -> display: a caller's REST call-next (the caller terminal's own request, with
  its device key and an Idempotency-Key) until the display process has written the frame
  that shows the call (the PNG's modification time; the banner's pixels are checked);
- call-next -> state fetched: until the display had the screen state it drew the call from
  (the last state answer in its log before that frame; millisecond log timestamps): the part
  of the display's delay spent before its own loop takes the answer and draws;
- call-next -> voice: until the display's player was started with the call's WAV (the
  player records its own start time), i.e. WAV made by espeak-ng and the player running;
- each device program's resident memory (VmRSS, and the peak VmHWM) after the calls.

Goals (issue 6): display under 200 ms, voice under 1 s, each device under 120 MB.

.venv/bin/python -m bench.queue_bench [--calls 25] [--display-fps N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.queue_system import Core, Devices, frame_showing, order_ct, set_up_core, wait_for

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
GOALS = {"display_ms": 200.0, "voice_ms": 1000.0, "rss_mb": 120.0}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 1),
        "p95": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 1),
        "max": round(ordered[-1], 1),
    }


def played_since(folder: Path, seen: set[Path]) -> set[Path] | None:
    """The WAVs the player was started with since ``seen``, once both repeats are there."""
    new = set(folder.glob("*.wav")) - seen
    return new if len(new) >= 2 else None


def state_fetches(log: str) -> list[int]:
    """When (epoch ns, millisecond resolution) the display had each screen state answer: httpx
    logs the request once the answer's header is in, the log line starts with local time."""
    times = []
    for line in log.splitlines():
        if "/screens/1F/state" in line and "200 OK" in line:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            times.append(int(stamp.timestamp() * 1e9))
    return times


def memory(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)  # kB -> MiB
    return fields


def run(calls: int, folder: Path) -> dict[str, Any]:
    core = Core(folder / "core")
    devices = Devices(folder / "devices")
    core.start()
    try:
        admin = core.admin()
        keys = set_up_core(admin)
        for n in range(calls):
            name = SURNAMES[n % 20] + GIVEN[(n * 7) % 20] + GIVEN[n // 20 % 20]
            accession = order_ct(admin, f"B{n:04d}", name)
            answer = admin.post("/api/queueing/check-in", json={"barcode": accession})
            assert answer.status_code == 201, answer.text
        devices.start(core.url, keys)
        wait_for(lambda: "/screens/1F/state" in devices.log("queue-display"), "display online")
        wait_for(lambda: any(devices.frames.glob("frame-*.png")), "first frame")
        caller = httpx.Client(
            base_url=core.url,
            headers={"Authorization": f"Bearer {keys['caller-terminal']}"},
            timeout=30,
        )
        display_ms: list[float] = []
        fetched_ms: list[float] = []
        voice_ms: list[float] = []
        for n in range(calls):
            seen_frame = max(f.name for f in devices.frames.glob("frame-*.png"))
            seen_wavs = set(devices.played.glob("*.wav"))
            sent = time.time_ns()
            answer = caller.post(
                "/api/queueing/rooms/CT1/call-next",
                json={},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert answer.status_code == 200, answer.text
            ticket = answer.json()["ticket"]
            state = admin.get("/api/queueing/screens/1F/state").json()
            call = state["current_call"]
            assert call["ticket_id"] == ticket["id"], (call, ticket)
            banner = f"请 {call['number']} 号 {call['name']} 到 {call['room_name']} 检查"
            frame = wait_for(
                partial(frame_showing, devices.frames, state, banner, seen_frame),
                f"call {n} on screen",
            )
            shown = frame.stat().st_mtime_ns
            display_ms.append((shown - sent) / 1e6)
            fetched = max(t for t in state_fetches(devices.log("queue-display")) if t <= shown)
            fetched_ms.append((fetched - sent) / 1e6)
            # Both repeats played, so the next call's voice starts from an idle speaker.
            new = wait_for(partial(played_since, devices.played, seen_wavs), f"call {n} spoken")
            voice_ms.append((min(int(p.stem) for p in new) - sent) / 1e6)
        devices.alive()
        rss = {program: memory(p.pid) for program, p in devices.processes.items()}
        rss["core-server"] = memory(core.process.pid) if core.process else {}
        return {
            "calls": calls,
            "call_next_to_display_ms": summary(display_ms),
            "call_next_to_state_fetched_ms": summary(fetched_ms),
            "call_next_to_voice_ms": summary(voice_ms),
            "memory_mib": rss,
            "goals": GOALS,
            "load_average_1min": round(os.getloadavg()[0], 1),  # the machine is shared
            "raw": {"display_ms": display_ms, "fetched_ms": fetched_ms, "voice_ms": voice_ms},
        }
    finally:
        devices.stop()
        core.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=25, help="calls to measure (default 25)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here too")
    parser.add_argument(
        "--display-fps", type=int, help="the display's frames_per_second (default: its own, 10)"
    )
    args = parser.parse_args()
    if args.display_fps:
        os.environ["QUEUE_DISPLAY_FRAMES_PER_SECOND"] = str(args.display_fps)
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as folder:
        figures = run(args.calls, Path(folder))
    for what in (
        "call_next_to_display_ms",
        "call_next_to_state_fetched_ms",
        "call_next_to_voice_ms",
    ):
        print(f"{what}: {figures[what]}")
    print(f"load average (1 min) at the end: {figures['load_average_1min']}")
    for program, fields in figures["memory_mib"].items():
        print(f"{program}: {fields} MiB")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
