"""The automatic code flow: a program started with the core's address (option ``core_url``)
but no enrolment file asks for a code, shows it (large, with a QR of the admin page that
confirms it and the core certificate's fingerprint) on its screen or, without one, in the
journal, waits for the administrator, stores the key and CA, and returns the enrolment so
the program goes on into its normal run in the same process and window."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime

import pygame
import qrcode

from device_kit import enrol_code, enrolment
from device_kit.config import DeviceSettings, ScreenSettings
from device_kit.i18n import Messages
from device_kit.screen import Canvas, open_window
from device_kit.systemd import Notifier

log = logging.getLogger(__name__)
BACKGROUND = (18, 32, 56)
TEXT = (255, 255, 255)
SECOND = (170, 190, 215)  # the second language, smaller
CODE = (255, 214, 90)
SCREENSHOT = "enrolment-code.png"


def obtain(settings: DeviceSettings, notifier: Notifier | None = None) -> enrolment.Enrolment:
    """The stored enrolment; else, with ``core_url`` set, one made by code (blocking until
    an administrator confirms); else ``NotEnrolled`` saying how to enrol."""
    if settings.enrolment_file.is_file() or not settings.core_url:
        return enrolment.load(settings.enrolment_file, settings.program)
    notifier = notifier or Notifier()
    notifier.ready()  # up and doing its job: waiting for its administrator
    screen = CodeScreen(settings) if isinstance(settings, ScreenSettings) else None

    def show(code: enrol_code.Code) -> None:
        log.warning(
            "enrolment code %s (until %s): confirm it on %s%s",
            code.code,
            code.expires_at,
            code.qr,
            f"; core certificate {code.fingerprint}" if code.fingerprint else "",
        )
        notifier.status(f"waiting for the administrator to confirm enrolment code {code.code}")
        if screen is not None:
            screen.show(code)

    record = enrol_code.by_code(
        settings.core_url,
        settings.program,
        show,
        alive=notifier.alive,
        sleep=screen.wait if screen is not None else time.sleep,
    )
    enrolment.save(settings.enrolment_file, record)
    log.info("enrolled as %s: key stored in %s", record.device_name, settings.enrolment_file)
    return record


class CodeScreen:
    """The program's window showing the code; keeps pygame's events flowing while waiting."""

    def __init__(self, settings: ScreenSettings) -> None:
        self.settings = settings
        self.canvas = open_window(
            settings.size, settings.fullscreen, settings.program, settings.font_path
        )
        first = settings.language
        self.texts = [Messages("enrolment", first), Messages("enrolment", _other(first))]
        self.code: enrol_code.Code | None = None

    def show(self, code: enrol_code.Code) -> None:
        self.code = code
        draw(self.canvas, code, self.texts, self.settings.core_url)
        self.canvas.show()
        folder = getattr(self.settings, "screenshot_dir", None)
        if folder is not None:
            self.canvas.save_png(folder, SCREENSHOT)

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for event in pygame.event.get():
                if event.type == pygame.QUIT:
                    raise SystemExit(0)
                if event.type in (pygame.VIDEOEXPOSE, pygame.WINDOWEXPOSED) and self.code:
                    self.show(self.code)
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _other(language: str) -> str:
    return "en" if language == "zh" else "zh"


def draw(canvas: Canvas, code: enrol_code.Code, texts: list[Messages], core_url: str) -> None:
    """Landscape: words left, QR right; portrait: the QR under the code."""
    width, height = canvas.width, canvas.height
    canvas.clear(BACKGROUND)
    landscape = width >= height
    side = int(min(width * 0.38, height * 0.62) if landscape else min(width * 0.7, height * 0.36))
    margin = max(16, width // 30)
    column = width - side - 3 * margin if landscape else width - 2 * margin
    line = max(14, min(height, width * 9 // 16) // 30)  # portrait: as if 16:9 across
    y = margin
    y = _pair(canvas, texts, "title", {}, (margin, y), line * 2, column) + line
    shown = canvas.text(code.code, (margin, y), min(height, width) // 5, CODE, column)
    y = shown.bottom + line
    if not landscape:
        _qr(canvas, code.qr, pygame.Rect((width - side) // 2, y, side, side))
        y += side + line
    y = _pair(canvas, texts, "waiting", {}, (margin, y), int(line * 1.6), column) + line // 2
    y = _pair(canvas, texts, "how", {}, (margin, y), line, column) + line // 2
    until = {"time": _clock(code.expires_at)}
    y = _pair(canvas, texts, "until", until, (margin, y), line, column) + line // 2
    if code.fingerprint:
        values = {"fingerprint": code.fingerprint}
        y = _pair(canvas, texts, "fingerprint", values, (margin, y), line, column) + line // 2
    _pair(canvas, texts, "core", {"url": core_url}, (margin, y), line, column)
    if landscape:
        _qr(canvas, code.qr, pygame.Rect(width - side - margin, (height - side) // 2, side, side))


def _pair(
    canvas: Canvas,
    texts: list[Messages],
    key: str,
    values: Mapping[str, object],
    at: tuple[int, int],
    size: int,
    width: int,
) -> int:
    """The line in the screen's language, then smaller in the other; returns the bottom."""
    first = canvas.text(texts[0](key, **values), at, size, TEXT, width)
    second = canvas.text(
        texts[1](key, **values), (at[0], first.bottom + 2), size * 3 // 4, SECOND, width
    )
    return second.bottom


def _clock(expires_at: str) -> str:
    """HH:MM of the core's ISO time, which carries the hospital's offset already."""
    try:
        return datetime.fromisoformat(expires_at).strftime("%H:%M")
    except ValueError:
        return expires_at


def qr_modules(text: str) -> list[list[bool]]:
    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    return [list(row) for row in qr.get_matrix()]


def _qr(canvas: Canvas, text: str, box: pygame.Rect) -> None:
    """Black modules on white, whole pixels per module (a blurred QR scans badly)."""
    modules = qr_modules(text)
    count = len(modules)
    cell = max(1, box.width // count)
    size = cell * count
    left, top = box.x + (box.width - size) // 2, box.y + (box.height - size) // 2
    canvas.fill(pygame.Rect(left, top, size, size), (255, 255, 255))
    for row, values in enumerate(modules):
        for col, dark in enumerate(values):
            if dark:
                canvas.fill(pygame.Rect(left + col * cell, top + row * cell, cell, cell), (0, 0, 0))
