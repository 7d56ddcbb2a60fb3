"""The enrolment code screen (SDL's dummy driver): the code large, the waiting line in both
languages, the certificate's fingerprint, and a QR that zbarimg reads back as the admin link;
landscape and portrait, screenshots in test-artifacts/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pygame
import pytest

from device_kit import config, enrol_code, enrol_screen
from device_kit.i18n import Messages
from device_kit.screen import offscreen
from tests.device_kit.screens import assert_drawn

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "enrolment"
CORE = "https://pacs.example:8443"
CODE = enrol_code.Code(
    "K7P-4QX",
    "2025-03-01T09:15:00+08:00",
    f"{CORE}/queueing/admin?enrol=K7P-4QX",
    "AB12 CD34 EF56 7890 1122 3344 5566 7788",
)


def read_qr(png: Path) -> str:
    zbar = shutil.which("zbarimg")
    if zbar is None:
        pytest.skip("zbarimg (Debian zbar-tools) is not installed")
    answer = subprocess.run([zbar, "--raw", "-q", str(png)], capture_output=True, text=True)
    return answer.stdout.strip()


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280)], ids=["landscape", "portrait"])
def test_code_screen_shows_code_words_and_a_readable_qr(size: tuple[int, int]) -> None:
    canvas = offscreen(size)
    texts = [Messages("enrolment", "zh"), Messages("enrolment", "en")]
    enrol_screen.draw(canvas, CODE, texts, CORE)
    code = assert_drawn(canvas, "K7P-4QX")
    assert code.height > size[1] // 8  # large: read from across the room
    assert_drawn(canvas, "等待管理员确认")
    assert_drawn(canvas, "Waiting for the administrator")
    assert_drawn(canvas, "有效至 09:15，过期后自动更换")  # the hospital's time, as the core said
    fingerprint = [p for p in canvas.placed if CODE.fingerprint in p.text]
    assert len(fingerprint) == 2  # both languages
    for placed in canvas.placed:  # nothing runs off the screen
        assert canvas.surface.get_rect().contains(placed.rect), placed.text
    png = canvas.save_png(ARTIFACTS, f"code-{size[0]}x{size[1]}.png")
    assert read_qr(png) == CODE.qr


def test_english_screen_puts_english_first() -> None:
    canvas = offscreen((1024, 600))
    texts = [Messages("enrolment", "en"), Messages("enrolment", "zh")]
    enrol_screen.draw(canvas, enrol_code.Code("ABC-DEF", "x", CODE.qr), texts, CORE)
    english, chinese = canvas.find("Device enrolment"), canvas.find("设备注册")
    assert english is not None and chinese is not None
    assert english.rect.bottom <= chinese.rect.top and english.size > chinese.size
    assert not [p for p in canvas.placed if "fingerprint" in p.text]  # http: none to show


def test_code_screen_window_with_the_dummy_driver(tmp_path: Path) -> None:
    from queue_display.settings import Settings

    settings = config.load(
        Settings, state_dir=tmp_path, window_size="800x480", fullscreen=False, core_url=CORE
    )
    settings.screenshot_dir = tmp_path / "frames"
    screen = enrol_screen.CodeScreen(settings)
    try:
        screen.show(CODE)
        screen.wait(0.05)
        assert pygame.display.get_surface().get_size() == (800, 480)
        assert read_qr(tmp_path / "frames" / enrol_screen.SCREENSHOT) == CODE.qr
    finally:
        pygame.quit()
