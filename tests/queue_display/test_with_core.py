"""The waiting-room screen against a real core: a call pushed over the WebSocket is spoken and
highlighted; when the core goes away the last state stays with the offline mark."""

from __future__ import annotations

import io
from pathlib import Path

import pygame

from device_kit import config
from device_kit.screen import offscreen
from queue_display.__main__ import DisplayProgram
from queue_display.hardware import RecordingSpeaker
from queue_display.settings import Settings
from queue_display.ui import OFFLINE
from tests.conftest import RunningCore
from tests.device_kit.core_setup import check_in, enrol, order_exam, run_until, setup_ct
from tests.device_kit.screens import assert_drawn, colour_count

LOGO_RED = (230, 0, 18)


def test_call_spoken_and_shown_then_offline(core: RunningCore, tmp_path: Path) -> None:
    admin = setup_ct(core)
    ticket = check_in(admin, order_exam(core, "P001", "张三丰").accession_number)
    record = enrol(admin, tmp_path, "hall-screen", "screen", screen="1F")
    enrol(admin, tmp_path / "caller", "ct1-caller", "caller", room="CT1")
    logo = io.BytesIO()
    surface = pygame.Surface((120, 120))
    surface.fill(LOGO_RED)
    pygame.image.save(surface, logo, "logo.png")
    answer = admin.put(
        "/api/queueing/logo", content=logo.getvalue(), headers={"Content-Type": "image/png"}
    )
    assert answer.status_code == 204, answer.text
    settings = config.load(
        Settings,
        state_dir=tmp_path,
        screenshot_dir=tmp_path / "frames",
        reconnect_min_delay=0.05,
        reconnect_max_delay=0.5,
    )
    speaker = RecordingSpeaker()
    program = DisplayProgram(settings, record, speaker, offscreen((1920, 1080)))
    program.start()
    try:
        run_until(
            program.step, lambda: program.app.state is not None and program.app.online, "state"
        )
        assert_drawn(program.canvas, "某某市人民医院")
        assert_drawn(program.canvas, f"{ticket['number']}  张*丰")  # waiting, masked

        answer = admin.post("/api/queueing/rooms/CT1/call-next", json={})
        assert answer.status_code == 200, answer.text
        run_until(
            program.step,
            lambda: bool(speaker.spoken) and program.app.view().current_call is not None,
            "call",
        )
        # The core's voice text and repeat count, at the screen's speech rate.
        assert speaker.spoken == [(f"请{ticket['number']}号张三丰到CT一室检查", 2, 150)]
        program.draw()
        assert_drawn(program.canvas, f"请 {ticket['number']} 号 张*丰 到 CT一室 检查")
        assert colour_count(program.canvas, OFFLINE) == 0

        core.stop()  # the core goes away
        run_until(program.step, lambda: not program.app.online, "offline")
        program.draw()
        assert_drawn(program.canvas, "网络中断，显示的是最后状态")
        assert_drawn(program.canvas, f"请 {ticket['number']} 号 张*丰 到 CT一室 检查")
        frames = sorted((tmp_path / "frames").glob("frame-*.png"))
        assert len(frames) >= 3 and all(f.stat().st_size > 10_000 for f in frames)
    finally:
        program.stop()


def test_a_revoked_key_is_shown_as_refused(core: RunningCore, tmp_path: Path) -> None:
    admin = setup_ct(core)
    record = enrol(admin, tmp_path, "hall-screen", "screen", screen="1F")
    assert admin.delete("/api/queueing/devices/hall-screen").status_code == 204
    settings = config.load(Settings, state_dir=tmp_path, reconnect_min_delay=0.05)
    program = DisplayProgram(settings, record, RecordingSpeaker(), offscreen((1280, 720)))
    program.start()
    try:
        run_until(program.step, lambda: program.app.refused, "refused")
        program.draw()
        assert_drawn(program.canvas, "本设备未被授权，请联系管理员")
    finally:
        program.stop()
