"""The capture station's pygame screen (landscape, Chinese first).

Left: the live preview scaled to fit ("no signal" when the grabber gives nothing), with the
clip's recording time and the timed capture's countdown over it. Right: the exam's patient,
or before an exam the room's worklist with the called exam marked. Bottom: the thumbnails of
the exam's captures with their state (taken / sent), and the buttons a touch or a click uses.
Top: the link's state and the unsent count ("网络中断，已缓存 N 张").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pygame

from capture_station.app import DISCONTINUE_REASONS, CaptureApp
from capture_station.contract import Capture, ExamContext
from capture_station.scope import warning_key as scope_warning_key
from device_kit.screen import Canvas

log = logging.getLogger(__name__)
Text = Callable[..., str]

BACKGROUND = (16, 20, 28)
PANEL = (30, 36, 48)
TEXT = (235, 238, 242)
MUTED = (150, 160, 175)
ACCENT = (60, 140, 230)
RECORDING = (220, 50, 50)
WARN = (240, 170, 40)
SENT = (60, 180, 100)
THUMB = (96, 72)


@dataclass(frozen=True)
class Target:
    rect: pygame.Rect
    command: str
    value: Any = None


def display_name(pn: str) -> str:
    """A DICOM PN as a person reads it: the ideographic group when there is one (王建国), else
    the alphabetic one (WANG JIANGUO); never a raw ``^`` or ``=``."""
    groups = pn.split("=")
    chosen = next((g for g in reversed(groups[:2]) if g.strip("^ ")), "")
    parts = [p.strip() for p in chosen.split("^")[:2] if p.strip()]
    if any(ord(ch) > 0x2E80 for ch in chosen):
        return "".join(parts)
    return " ".join(parts)


class Thumbnails:
    """Each capture's thumbnail, read once from its spooled JPEG (a clip shows a mark)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, pygame.Surface | None] = {}

    def get(self, capture: Capture) -> pygame.Surface | None:
        if capture.key not in self._cache:
            self._cache[capture.key] = self._load(capture)
        return self._cache[capture.key]

    def _load(self, capture: Capture) -> pygame.Surface | None:
        if capture.kind != "still":
            return None
        try:
            image = pygame.image.load(str(self.folder / capture.file))
        except (pygame.error, FileNotFoundError) as error:
            log.warning("no thumbnail for %s: %s", capture.key, error)
            return None
        return pygame.transform.smoothscale(image, THUMB)


def frame_surface(pixels: np.ndarray) -> pygame.Surface:
    height, width = pixels.shape[:2]
    return pygame.image.frombuffer(np.ascontiguousarray(pixels).tobytes(), (width, height), "RGB")


def draw(
    canvas: Canvas,
    app: CaptureApp,
    text: Text,
    frame: np.ndarray | None,
    thumbnails: Thumbnails | None = None,
) -> list[Target]:
    canvas.clear(BACKGROUND)
    width, height = canvas.width, canvas.height
    side = max(260, width * 3 // 10)
    strip = THUMB[1] + 40
    bar = 44
    preview = pygame.Rect(0, bar, width - side, height - bar - strip)
    _status_bar(canvas, app, text, pygame.Rect(0, 0, width, bar))
    _preview(canvas, app, text, frame, preview)
    panel = pygame.Rect(width - side, bar, side, height - bar - strip)
    canvas.fill(panel, PANEL)
    targets: list[Target] = []
    if app.exam is None:
        targets += _worklist(canvas, app, text, panel)
    else:
        targets += _patient(canvas, app, text, panel, app.exam)
    targets += _strip(canvas, app, text, thumbnails, pygame.Rect(0, height - strip, width, strip))
    return targets


def _status_bar(canvas: Canvas, app: CaptureApp, text: Text, rect: pygame.Rect) -> None:
    canvas.fill(rect, PANEL)
    if not app.online:
        canvas.text(text("offline_cached", count=app.unsent), (12, 8), 24, WARN)
    elif app.unsent:
        canvas.text(text("sending", count=app.unsent), (12, 8), 24, MUTED)
    else:
        canvas.text(text("all_sent"), (12, 8), 24, SENT)
    if app.notice is not None:
        color = WARN if app.notice.error else TEXT
        canvas.text(
            text(app.notice.key, **app.notice.values),
            (rect.width // 2, 8),
            24,
            color,
            max_width=rect.width // 2 - 12,
        )


def _preview(
    canvas: Canvas, app: CaptureApp, text: Text, frame: np.ndarray | None, rect: pygame.Rect
) -> None:
    if frame is None:
        canvas.fill(rect, (0, 0, 0))
        canvas.text(text("no_signal"), rect.center, 48, WARN, anchor="center")
    else:
        image = frame_surface(frame)
        scale = min(rect.width / image.get_width(), rect.height / image.get_height())
        size = (max(1, int(image.get_width() * scale)), max(1, int(image.get_height() * scale)))
        scaled = pygame.transform.scale(image, size)
        canvas.surface.blit(scaled, scaled.get_rect(center=rect.center))
    clip = app.clip_seconds
    if clip is not None:
        minutes, seconds = divmod(int(clip), 60)
        label = text("recording", time=f"{minutes:02d}:{seconds:02d}")
        pygame.draw.circle(canvas.surface, RECORDING, (rect.x + 28, rect.y + 30), 12)
        canvas.text(label, (rect.x + 48, rect.y + 14), 30, RECORDING)
    countdown = app.timed_countdown
    if countdown is not None:
        canvas.text(
            text("timed_in", seconds=countdown),
            (rect.right - 16, rect.y + 14),
            30,
            WARN,
            anchor="topright",
        )


def _patient(
    canvas: Canvas, app: CaptureApp, text: Text, rect: pygame.Rect, exam: ExamContext
) -> list[Target]:
    x, y, inner = rect.x + 16, rect.y + 16, rect.width - 32
    canvas.text(display_name(exam.patient_name), (x, y), 40, TEXT, max_width=inner)
    y += 56
    if exam.temporary:
        canvas.text(text("temporary_patient"), (x, y), 22, WARN, max_width=inner)
        y += 32
    for line in (
        f"{text('patient_id')} {exam.patient_id}",
        f"{text('accession')} {exam.accession_number}",
        exam.requested_procedure,
    ):
        if line.strip():
            canvas.text(line, (x, y), 22, MUTED, max_width=inner)
            y += 32
    buttons = [("still", "still"), ("burst", "burst"), ("timed", "timed"), ("clip", "clip")]
    targets: list[Target] = []
    if app.scope.enabled:
        scope_targets, y = _scope(canvas, app, text, x, y, inner)
        targets += scope_targets
        if app.scope.needed:
            buttons = []  # no capture buttons before the scope is checked
    if app.choosing_reason:
        buttons = [(f"reason_{r}", r) for r in DISCONTINUE_REASONS]
        canvas.text(text("choose_reason"), (x, y + 8), 24, WARN, max_width=inner)
        return _buttons(canvas, text, buttons, x, y + 44, inner, "discontinue")
    if buttons:
        targets += _buttons(canvas, text, buttons, x, y + 12, inner)
    end_row = rect.bottom - 64
    targets += _buttons(
        canvas,
        text,
        [("delete", "delete"), ("end", "end"), ("discontinue", "discontinue")],
        x,
        end_row,
        inner,
        row=True,
    )
    return targets


def _scope(
    canvas: Canvas, app: CaptureApp, text: Text, x: int, y: int, inner: int
) -> tuple[list[Target], int]:
    """The endoscope: the one in use with its state, or the list to touch (a scanner may read
    the tag instead), and the warning with "continue anyway" in large red letters."""
    check, use = app.scope, app.scope.use
    if use is not None and use.status in ("ok", "accepted", "unanswered"):
        color = SENT if use.status == "ok" else WARN
        canvas.text(text("scope_in_use", scope=use.code), (x, y), 22, color, max_width=inner)
        return [], y + 32
    if use is not None and use.status == "warned":
        key = scope_warning_key(use.warning)
        canvas.text(text(key, scope=use.code), (x, y), 30, RECORDING, max_width=inner)
        targets = _buttons(canvas, text, [("scope_accept", "scope_accept")], x, y + 48, inner)
        return targets, y + 112
    if use is not None:  # asked, waiting for the core
        canvas.text(text("scope_checking", scope=use.code), (x, y), 22, MUTED, max_width=inner)
        return [], y + 32
    canvas.text(text("scope_title"), (x, y), 26, WARN, max_width=inner)
    y += 40
    targets = []
    if not check.choices:
        canvas.text(text("scope_none"), (x, y), 18, MUTED, max_width=inner)
    for code in check.choices[:6]:
        box = pygame.Rect(x, y, inner, 44)
        warned = check.known.get(code) is not None
        canvas.fill(box, BACKGROUND, radius=6)
        pygame.draw.rect(canvas.surface, WARN if warned else SENT, box, 2, border_radius=6)
        canvas.text(code, (box.x + 8, box.y + 10), 22, TEXT, max_width=inner - 16)
        targets.append(Target(box, "scope", code))
        y += 50
    return targets, y


def _buttons(
    canvas: Canvas,
    text: Text,
    buttons: list[tuple[str, str]],
    x: int,
    y: int,
    width: int,
    value_of: str | None = None,
    row: bool = False,
) -> list[Target]:
    """Touch buttons: a column (or one row); ``value_of`` makes each a value of that command."""
    targets = []
    cell = (width - 8 * (len(buttons) - 1)) // len(buttons) if row else width
    for index, (label, command) in enumerate(buttons):
        box = (
            pygame.Rect(x + index * (cell + 8), y, cell, 52)
            if row
            else pygame.Rect(x, y + index * 60, cell, 52)
        )
        canvas.fill(box, ACCENT, radius=8)
        canvas.text(text(label), box.center, 24, TEXT, max_width=box.width - 8, anchor="center")
        targets.append(Target(box, value_of, command) if value_of else Target(box, command))
    return targets


def _worklist(canvas: Canvas, app: CaptureApp, text: Text, rect: pygame.Rect) -> list[Target]:
    x, y, inner = rect.x + 12, rect.y + 12, rect.width - 24
    canvas.text(text("pick_patient"), (x, y), 28, TEXT, max_width=inner)
    y += 44
    targets: list[Target] = []
    called = app.called
    for index, exam in enumerate(app.worklist[:8]):
        box = pygame.Rect(x, y, inner, 56)
        highlighted = index == app.highlight
        canvas.fill(box, ACCENT if highlighted else BACKGROUND, radius=6)
        is_called = called is not None and (
            (called.exam_id is not None and called.exam_id == exam.exam_id)
            or (bool(called.accession_number) and called.accession_number == exam.accession_number)
        )
        label = display_name(exam.patient_name)
        if is_called:
            label = f"{text('called')} {label}"
        canvas.text(label, (box.x + 8, box.y + 4), 24, TEXT, max_width=inner - 16)
        canvas.text(
            exam.requested_procedure or exam.accession_number,
            (box.x + 8, box.y + 32),
            16,
            MUTED,
            max_width=inner - 16,
        )
        targets.append(Target(box, "pick", index))
        y += 62
    if not app.worklist:
        canvas.text(text("worklist_empty"), (x, y), 22, MUTED, max_width=inner)
    targets += _buttons(canvas, text, [("emergency", "emergency")], x, rect.bottom - 64, inner)
    return targets


def _strip(
    canvas: Canvas,
    app: CaptureApp,
    text: Text,
    thumbnails: Thumbnails | None,
    rect: pygame.Rect,
) -> list[Target]:
    shown = app.shown_captures
    canvas.text(text("captures_count", count=len(shown)), (12, rect.y + 4), 18, MUTED)
    fit = max(1, (rect.width - 24) // (THUMB[0] + 8))
    targets: list[Target] = []
    for index, capture in enumerate(shown[-fit:]):
        box = pygame.Rect(12 + index * (THUMB[0] + 8), rect.y + 30, *THUMB)
        image = thumbnails.get(capture) if thumbnails else None
        if image is not None:
            canvas.surface.blit(image, box)
        else:
            canvas.fill(box, PANEL)
            canvas.text(
                text("clip") if capture.kind == "clip" else "?",
                box.center,
                18,
                TEXT,
                anchor="center",
            )
        sent = capture.state == "sent"
        pygame.draw.rect(canvas.surface, SENT if sent else WARN, box, 3)
        canvas.text(
            text("state_sent" if sent else "state_taken"),
            (box.x + 4, box.bottom - 20),
            14,
            SENT if sent else WARN,
        )
    # Thumbnails are not touch targets: a stray touch must not delete an image ("删除" removes
    # the newest unsent one, on purpose).
    return targets


def hit(targets: list[Target], position: tuple[int, int]) -> Target | None:
    return next((t for t in reversed(targets) if t.rect.collidepoint(position)), None)
