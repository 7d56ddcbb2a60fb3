"""The station's screen with SDL's dummy driver: the worklist with the called exam, the exam's
patient as a person reads the name, thumbnails with their states, the unsent count while the
network is down, countdown and recording time, "no signal"; screenshots in test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pygame
import pytest
from PIL import Image

from capture_station import ui
from capture_station.app import (
    CalledExam,
    CaptureApp,
    Clock,
    Command,
    SenderState,
    Taken,
    WorklistFetched,
)
from capture_station.contract import Capture, ExamContext
from device_kit.i18n import Messages
from device_kit.screen import offscreen

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EXAMS = [
    ExamContext("A1", "P1", "WANG^JIANGUO=王^建国", exam_id=1, requested_procedure="胃镜检查"),
    ExamContext("A2", "P2", "李^四", exam_id=2),
]


@pytest.fixture(autouse=True)
def dummy_video() -> None:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def test_display_name_never_shows_carets() -> None:
    assert ui.display_name("WANG^JIANGUO=王^建国") == "王建国"
    assert ui.display_name("王^建国") == "王建国"
    assert ui.display_name("王建国") == "王建国"
    assert ui.display_name("SMITH^JOHN") == "SMITH JOHN"
    assert ui.display_name("WANG^JIANGUO=") == "WANG JIANGUO"


def test_worklist_then_exam_screen(tmp_path: Path) -> None:
    canvas = offscreen((1280, 720))
    text = Messages("capture_station", "zh")
    machine = CaptureApp(timed_seconds=5)
    machine.handle(WorklistFetched(list(EXAMS)))
    machine.handle(CalledExam(2))
    targets = ui.draw(canvas, machine, text, None)
    assert canvas.find("无视频信号") is not None
    assert canvas.find("【叫号】 李四") is not None and canvas.find("王建国") is not None
    assert not any("^" in p.text for p in canvas.placed)
    picks = [t for t in targets if t.command == "pick"]
    assert [t.value for t in picks] == [0, 1]
    canvas.save_png(ARTIFACTS, "capture_station_worklist.png")

    machine.handle(Command("pick", 0))
    frame = np.zeros((576, 768, 3), dtype=np.uint8)
    frame[:, :, 1] = 200
    for key in ("k1", "k2"):
        Image.fromarray(frame).save(tmp_path / f"{key}.jpg", quality=80)
    captures = [
        Capture(
            k,
            "still",
            "1." + k[-1],
            "1.9",
            EXAMS[0],
            "2026-12-07T10:00:00+08:00",
            f"{k}.jpg",
            768,
            576,
            n,
        )
        for n, k in enumerate(("k1", "k2"), 1)
    ]
    machine.handle(Taken(captures))
    machine.handle(Clock(100.0))
    machine.handle(Command("timed"))
    machine.handle(Command("clip"))
    machine.handle(Clock(103.2))
    machine.handle(SenderState(False, 2, frozenset({"k1"})))
    targets = ui.draw(canvas, machine, text, frame, ui.Thumbnails(tmp_path))
    for shown in (
        "王建国",
        "网络中断，已缓存 2 张",
        "2 秒后拍照",
        "录像中 00:03",
        "已传",
        "未传",
        "本次检查 2 张",
    ):
        assert canvas.find(shown) is not None, shown
    assert canvas.find("无视频信号") is None
    # The preview really shows the frame (green), scaled into its box.
    assert canvas.surface.get_at((300, 300))[:3] == (0, 200, 0)
    commands = {t.command for t in targets}
    assert {"still", "burst", "timed", "clip", "delete", "end", "discontinue"} <= commands
    hit = ui.hit(targets, next(t for t in targets if t.command == "end").rect.center)
    assert hit is not None and hit.command == "end"
    canvas.save_png(ARTIFACTS, "capture_station_exam.png")

    english = Messages("capture_station", "en")
    machine.handle(Command("discontinue"))
    targets = ui.draw(canvas, machine, english, frame)
    assert canvas.find("Why is the exam discontinued?") is not None
    assert {t.value for t in targets if t.command == "discontinue"} >= {"equipment_failure"}
    pygame.quit()


def test_scope_list_then_warning_with_continue_anyway() -> None:
    from capture_station.scope import ScopeAnswered, ScopeCheck, ScopesFetched

    canvas = offscreen((1280, 720))
    text = Messages("capture_station", "zh")
    machine = CaptureApp(scope=ScopeCheck(True))
    machine.handle(WorklistFetched(list(EXAMS)))
    machine.handle(Command("pick", 0))
    machine.handle(ScopesFetched((("GS-01", None), ("GS-02", "capture.scope.never_disinfected"))))
    targets = ui.draw(canvas, machine, text, None)
    assert canvas.find("请扫描或选择内镜") is not None
    assert [t.value for t in targets if t.command == "scope"] == ["GS-01", "GS-02"]
    assert not {"still", "clip"} & {t.command for t in targets}  # no capture yet
    touched = next(t for t in targets if t.value == "GS-02")
    hit = ui.hit(targets, touched.rect.center)
    assert hit is not None
    machine.handle(Command(hit.command, hit.value))
    machine.handle(ScopeAnswered("GS-02", "capture.scope.never_disinfected"))
    targets = ui.draw(canvas, machine, text, None)
    assert canvas.find("警告：内镜 GS-02 没有消毒记录") is not None
    accept = [t for t in targets if t.command == "scope_accept"]
    assert len(accept) == 1 and canvas.find("仍然继续") is not None
    canvas.save_png(ARTIFACTS, "capture_station_scope_warning.png")
    machine.handle(Command("scope_accept"))
    targets = ui.draw(canvas, machine, text, None)
    assert canvas.find("内镜 GS-02") is not None and "still" in {t.command for t in targets}
    pygame.quit()
