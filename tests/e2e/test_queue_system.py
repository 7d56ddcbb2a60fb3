"""The queue system end to end, every part its own process as installed: a HIS order through
the RIS REST API, the slip scanned at the kiosk, the ticket on paper, the call from the exam
room's button box, the name on the waiting-room screen and the call spoken; then the core is
killed with SIGKILL and restarted on the same ports, and every device carries on by itself,
a button pressed while the core was down acting once."""

from __future__ import annotations

import sqlite3
import wave
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.e2e.queue_system import Core, Devices, frame_showing, order_ct, set_up_core, wait_for
from ticket_printer.hardware import FS_CHINESE_OFF, FS_CHINESE_ON

CALL_NEXT = b"1"  # the serial button box's code for "call next"


def on_paper(devices: Devices, text: str) -> bool:
    return FS_CHINESE_ON + text.encode("gb18030") + FS_CHINESE_OFF in devices.paper.read_bytes()


def screen(admin: httpx.Client) -> dict[str, Any]:
    answer = admin.get("/api/queueing/screens/1F/state")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def current(admin: httpx.Client) -> dict[str, Any] | None:
    answer = admin.get("/api/queueing/rooms/CT1/state")
    assert answer.status_code == 200, answer.text
    return answer.json()["current"]


def request_logged(devices: Devices, program: str, path: str, count: int = 1) -> bool:
    """httpx logs each request the program made: ``count`` answered ``path`` requests."""
    return devices.log(program).count(f'{path} "HTTP/1.1 200 OK"') >= count


def latest_frame(devices: Devices) -> str:
    return max((f.name for f in devices.frames.glob("frame-*.png")), default="")


def check_voice(devices: Devices, count: int) -> None:
    wavs = wait_for(
        lambda: len(found := sorted(devices.played.glob("*.wav"))) >= count and found,
        f"{count} WAVs played",
    )
    with wave.open(str(wavs[-1]), "rb") as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        seconds = w.getnframes() / w.getframerate()
    assert seconds > 1.5  # a whole sentence, not a click
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) / 32768 > 0.02  # not silence


def test_check_in_call_and_a_core_crash(tmp_path: Path) -> None:
    core = Core(tmp_path / "core")
    devices = Devices(tmp_path / "devices")
    core.start()
    try:
        admin = core.admin()
        keys = set_up_core(admin)
        accessions = [
            order_ct(admin, patient_id, name)
            for patient_id, name in (("P001", "张三丰"), ("P002", "欧阳娜娜"), ("P003", "李四"))
        ]
        devices.start(core.url, keys)
        # Each program has asked the core for its state (the caller ignores buttons before).
        for program, path in (
            ("queue-display", "/screens/1F/state"),
            ("caller-terminal", "/rooms/CT1/state"),
            ("ticket-printer", "/devices/me"),
        ):
            wait_for(partial(request_logged, devices, program, path), f"{program} online")
        devices.alive()

        # The patient scans the slip at the kiosk: a ticket with the masked name in GB18030.
        devices.reader.send(accessions[0].encode() + b"\r\n")
        wait_for(lambda: on_paper(devices, "姓名：张*丰"), "the first ticket printed")
        assert "张三丰".encode("gb18030") not in devices.paper.read_bytes()
        state = screen(admin)
        number = state["queues"][0]["waiting"][0]["number"]
        assert number.encode() + b"\n" in devices.paper.read_bytes()  # the big number

        # The technician presses "call next": the screen shows the masked name, the call is spoken.
        seen = latest_frame(devices)
        devices.button_box.send(CALL_NEXT)
        called = wait_for(lambda: current(admin), "the call reaching the core")
        assert (called["number"], called["name"]) == (number, "张三丰")
        state = screen(admin)
        banner = f"请 {number} 号 张*丰 到 CT一室 检查"
        wait_for(lambda: frame_showing(devices.frames, state, banner, seen), "the call on screen")
        check_voice(devices, 2)  # the core's repeat count: twice

        # A second patient checks in; then the core dies mid-shift.
        devices.reader.send(accessions[1].encode() + b"\r\n")
        wait_for(lambda: on_paper(devices, "姓名：欧**娜"), "the second ticket printed")
        core.kill()
        # Pressed while the core is down: kept in the caller's spool on disk.
        devices.button_box.send(CALL_NEXT)
        spool = devices.folder / "caller-terminal" / "spool.sqlite"
        wait_for(lambda: spooled(spool) == 1, "the press spooled")

        core.start()  # same ports, same data
        admin = core.admin()
        # The spooled call reaches the core once: the second patient is called, nobody else.
        called = wait_for(
            lambda: (c := current(admin)) and c["name"] == "欧阳娜娜" and c, "the spooled call"
        )
        wait_for(lambda: not spooled(spool), "the spool emptied")
        # Once: a replayed duplicate would have closed the second patient too.
        assert current(admin) == called
        state = screen(admin)
        assert state["queues"][0]["counts"]["waiting"] == 0
        assert state["queues"][0]["counts"]["finished"] == 1  # the first, closed by call-next
        # The screen reconnected by itself and shows the new call, spoken again.
        banner = f"请 {called['number']} 号 欧**娜 到 CT一室 检查"
        wait_for(lambda: frame_showing(devices.frames, state, banner), "the call after restart")
        check_voice(devices, 4)
        # The kiosk reconnected by itself: the next check-in prints.
        devices.reader.send(accessions[2].encode() + b"\r\n")
        wait_for(lambda: on_paper(devices, "姓名：李*"), "a ticket after the restart")
        assert screen(admin)["queues"][0]["counts"]["waiting"] == 1
        devices.alive()
    finally:
        devices.stop()
        core.kill()


def spooled(path: Path) -> int:
    """Actions waiting in a device's on-disk spool (read-only, beside the running program)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return int(connection.execute("SELECT count(*) FROM actions").fetchone()[0])
