"""Drawing the disc kiosk (pygame, a portrait touchscreen): each screen of the machine in
:mod:`kiosk_burner.app`, Chinese first with an English line under it, and the buttons, which
are the touch targets (``hit``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pygame

from device_kit.i18n import Messages
from device_kit.screen import Canvas, Color
from kiosk_burner import app as kiosk

BACKGROUND: Color = (240, 246, 252)
HEADER: Color = (10, 80, 160)
TEXT: Color = (20, 30, 45)
DIM: Color = (90, 100, 115)
BUTTON: Color = (25, 100, 200)
QUIET_BUTTON: Color = (120, 130, 145)
PICKED: Color = (30, 140, 60)
ROW: Color = (255, 255, 255)
WARNING: Color = (200, 30, 30)
WHITE: Color = (255, 255, 255)
KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "X", "0")


@dataclass(frozen=True)
class Target:
    rect: pygame.Rect
    target: str  # what app.Touched carries


@dataclass
class Painter:
    canvas: Canvas
    text: Messages
    second: Messages | None  # the English line under the Chinese one, or None
    unit: int
    pad: int
    targets: list[Target]

    def say(
        self, key: str, pos: tuple[int, int], size: float, color: Color, width: int, **values: Any
    ) -> int:
        """The text (and its English line), centred at ``pos``; the bottom y."""
        y = self.canvas.text(
            self.text(key, **values), pos, int(self.unit * size), color, width, "midtop"
        ).bottom
        if self.second is not None:
            english = self.second(key, **values)
            y = self.canvas.text(
                english, (pos[0], y + 4), int(self.unit * size * 0.55), DIM, width, "midtop"
            ).bottom
        return y

    def button(self, rect: pygame.Rect, target: str, key: str, color: Color = BUTTON) -> None:
        self.canvas.fill(rect, color, radius=self.pad)
        label = self.text(key)
        if self.second is not None and self.second(key) != label:
            label = f"{label} {self.second(key)}"
        self.canvas.text(label, rect.center, self.unit, WHITE, rect.width - self.pad, "center")
        self.targets.append(Target(rect, target))

    def row_of_buttons(self, area: pygame.Rect, buttons: list[tuple[str, str, Color]]) -> None:
        width = (area.width - (len(buttons) - 1) * self.pad) // max(1, len(buttons))
        for i, (target, key, color) in enumerate(buttons):
            rect = pygame.Rect(area.left + i * (width + self.pad), area.top, width, area.height)
            self.button(rect, target, key, color)


def draw(
    canvas: Canvas,
    state: kiosk.KioskApp,
    text: Messages,
    second: Messages | None = None,
    hospital: str = "",
    logo: pygame.Surface | None = None,
) -> list[Target]:
    canvas.clear(BACKGROUND)
    w, h = canvas.width, canvas.height
    unit = min(w, h) // 18
    p = Painter(canvas, text, second, unit, max(8, unit // 2), [])
    bar = pygame.Rect(0, 0, w, unit * 3)
    canvas.fill(bar, HEADER)
    x = p.pad
    if logo is not None:
        x = canvas.image(logo, (x, bar.top + p.pad), bar.height - 2 * p.pad).right + p.pad
    canvas.text(hospital, (x, bar.top + p.pad), unit, WHITE, int(w * 0.7) - x, "topleft")
    canvas.text(text("title"), (x, bar.centery + p.pad // 2), int(unit * 0.8), WHITE, None)
    clock = state.now.strftime("%H:%M")
    canvas.text(clock, (w - p.pad, bar.centery), unit, WHITE, None, "midright")
    footer = pygame.Rect(0, h - unit * 2, w, unit * 2)
    buttons = pygame.Rect(p.pad, footer.top - unit * 3 - p.pad, w - 2 * p.pad, unit * 3)
    body = pygame.Rect(
        p.pad, bar.bottom + p.pad, w - 2 * p.pad, buttons.top - bar.bottom - 2 * p.pad
    )
    SCREENS[state.screen](p, state, body, buttons)
    _footer(p, state, footer)
    return p.targets


def _welcome(p: Painter, state: kiosk.KioskApp, body: pygame.Rect, buttons: pygame.Rect) -> None:
    y = p.say("welcome", (body.centerx, body.top + body.height // 4), 1.3, TEXT, body.width)
    p.say("welcome_hint", (body.centerx, y + p.unit), 0.9, DIM, body.width)
    if not state.may_start:
        p.say(
            "core_unreachable" if not state.online else "ask_desk",
            body.center,
            1.0,
            WARNING,
            body.width,
        )
        return
    p.button(buttons, "start", "start")


def _identify(p: Painter, state: kiosk.KioskApp, body: pygame.Rect, buttons: pygame.Rect) -> None:
    birth = state.entering == kiosk.BIRTH_DATE
    y = p.say("enter_birth_date" if birth else "enter_id_card", body.midtop, 1.0, TEXT, body.width)
    value = state.birth_date if birth else state.id_card
    box = pygame.Rect(body.left, y + p.pad, body.width, int(p.unit * 2.2))
    p.canvas.fill(box, ROW, radius=p.pad)
    shown = f"{value[:4]}-{value[4:6]}-{value[6:]}".rstrip("-") if birth else value
    p.canvas.text(shown or " ", box.center, int(p.unit * 1.4), TEXT, box.width - p.pad, "center")
    y = box.bottom + p.pad
    if state.message and "key" in state.message:
        y = p.say(state.message["key"], (body.centerx, y), 0.8, WARNING, body.width)
    keys = [*(k for k in KEYS if birth is False or k != "X"), "delete"]
    pad_area = pygame.Rect(body.left, y + p.pad, body.width, body.bottom - y - p.pad)
    rows = 4
    kw, kh = (pad_area.width - 2 * p.pad) // 3, (pad_area.height - (rows - 1) * p.pad) // rows
    for i, key in enumerate(keys):
        row, column = divmod(i, 3)
        rect = pygame.Rect(
            pad_area.left + column * (kw + p.pad), pad_area.top + row * (kh + p.pad), kw, kh
        )
        if key == "delete":
            p.button(rect, "delete", "delete", QUIET_BUTTON)
        else:
            p.canvas.fill(rect, BUTTON, radius=p.pad)
            p.canvas.text(key, rect.center, int(p.unit * 1.4), WHITE, None, "center")
            p.targets.append(Target(rect, f"key:{key}"))
    p.row_of_buttons(
        buttons,
        [
            ("back", "back", QUIET_BUTTON),
            ("cancel", "cancel", QUIET_BUTTON),
            ("next", "next", BUTTON),
        ],
    )


def _waiting(p: Painter, state: kiosk.KioskApp, body: pygame.Rect, buttons: pygame.Rect) -> None:
    key = "looking_up" if state.screen == kiosk.LOOKING_UP else "queuing"
    p.say(key, (body.centerx, body.top + body.height // 3), 1.2, TEXT, body.width)
    p.button(buttons, "cancel", "cancel", QUIET_BUTTON)


def _exams(p: Painter, state: kiosk.KioskApp, body: pygame.Rect, buttons: pygame.Rect) -> None:
    name = str(state.patient.get("name") or "")
    y = p.say("exams_title", body.midtop, 1.0, TEXT, body.width, name=name) + p.pad
    row_height = int(p.unit * 2.6)
    if not state.burnable:
        y = p.say("no_burnable", (body.centerx, y), 0.9, WARNING, body.width) + p.pad
    for exam in state.burnable:
        rect = pygame.Rect(body.left, y, body.width, row_height)
        picked = int(exam["exam_id"]) in state.picked
        p.canvas.fill(rect, PICKED if picked else ROW, radius=p.pad)
        color = WHITE if picked else TEXT
        p.canvas.text(
            _exam_line(p, exam),
            (rect.left + p.pad, rect.top + p.pad // 2),
            p.unit,
            color,
            rect.width - 2 * p.pad,
        )
        report = p.text("report_yes" if exam.get("report") else "report_no")
        p.canvas.text(
            report,
            (rect.left + p.pad, rect.bottom - p.pad // 2),
            int(p.unit * 0.8),
            color,
            None,
            "bottomleft",
        )
        p.targets.append(Target(rect, f"exam:{exam['exam_id']}"))
        y = rect.bottom + p.pad
    if state.not_burnable:
        y = p.say("not_burnable_title", (body.centerx, y + p.pad), 0.8, DIM, body.width)
        for exam in state.not_burnable:
            line = f"{_exam_line(p, exam)}: {p.text(_why(p, exam))}"
            y = p.canvas.text(
                line, (body.left, y + p.pad // 2), int(p.unit * 0.8), DIM, body.width
            ).bottom
    p.row_of_buttons(
        buttons,
        [
            ("cancel", "cancel", QUIET_BUTTON),
            ("continue", "continue", BUTTON if state.picked else QUIET_BUTTON),
        ],
    )


def _exam_line(p: Painter, exam: dict[str, Any]) -> str:
    return p.text(
        "exam_line",
        date=str(exam.get("exam_date") or ""),
        procedure=str(exam.get("procedure") or exam.get("modality") or ""),
        images=int(exam.get("images") or 0),
    )


def _why(p: Painter, exam: dict[str, Any]) -> str:
    """The core's code (``discs.why.no_report``) as this kiosk's text key."""
    key = "why_" + str(exam.get("why_not") or "").rsplit(".", 1)[-1]
    try:
        p.text(key)
    except KeyError:
        return "why_other"
    return key


def _copies(p: Painter, state: kiosk.KioskApp, body: pygame.Rect, buttons: pygame.Rect) -> None:
    y = p.say("copies_title", body.midtop, 1.1, TEXT, body.width) + p.unit
    size = min(body.width // 4, body.height // 3)
    gap = (body.width - kiosk.MAX_COPIES * size) // (kiosk.MAX_COPIES + 1)
    for n in range(1, kiosk.MAX_COPIES + 1):
        rect = pygame.Rect(body.left + gap + (n - 1) * (size + gap), y, size, size)
        p.canvas.fill(rect, PICKED if n == state.copies else BUTTON, radius=p.pad)
        p.canvas.text(
            p.text("copies_n", n=n), rect.center, int(p.unit * 1.5), WHITE, rect.width, "center"
        )
        p.targets.append(Target(rect, f"copies:{n}"))
    p.row_of_buttons(
        buttons,
        [
            ("back", "back", QUIET_BUTTON),
            ("cancel", "cancel", QUIET_BUTTON),
            ("burn", "burn", BUTTON),
        ],
    )


def _progress(p: Painter, state: kiosk.KioskApp, body: pygame.Rect, buttons: pygame.Rect) -> None:
    step = state.job_state if state.job_state in ("building", "burning", "labelling") else "queued"
    at = (body.centerx, body.top + body.height // 4)
    y = p.say(
        f"progress_{step}", at, 1.2, TEXT, body.width, n=max(1, state.disc), m=max(1, state.discs)
    )
    y = p.say("progress_hint", (body.centerx, y + p.unit), 0.8, DIM, body.width)
    if state.reason in kiosk.RETRIED_REASONS:
        p.say("retrying", (body.centerx, y + p.unit), 0.9, WARNING, body.width)
    elif state.reason in kiosk.DESK_REASONS:
        y = p.say("ask_desk", (body.centerx, y + p.unit), 1.0, WARNING, body.width)
        p.say(state.reason, (body.centerx, y + p.pad), 0.8, WARNING, body.width)
    p.button(buttons, "cancel", "cancel", QUIET_BUTTON)


def _done(p: Painter, state: kiosk.KioskApp, body: pygame.Rect, buttons: pygame.Rect) -> None:
    y = p.say("done", (body.centerx, body.top + body.height // 4), 1.4, PICKED, body.width)
    p.say("done_hint", (body.centerx, y + p.unit), 0.8, DIM, body.width)
    p.button(buttons, "finish", "finish")


def _error(p: Painter, state: kiosk.KioskApp, body: pygame.Rect, buttons: pygame.Rect) -> None:
    message = state.message or {}
    at = (body.centerx, body.top + body.height // 4)
    if "key" in message:
        p.say(message["key"], at, 1.1, WARNING, body.width)
    else:  # the core's own words, already in the kiosk's language
        p.canvas.text(message.get("text", ""), at, int(p.unit * 1.1), WARNING, body.width, "midtop")
    p.button(buttons, "finish", "back", QUIET_BUTTON)


SCREENS = {
    kiosk.WELCOME: _welcome,
    kiosk.IDENTIFY: _identify,
    kiosk.LOOKING_UP: _waiting,
    kiosk.QUEUING: _waiting,
    kiosk.EXAMS: _exams,
    kiosk.COPIES: _copies,
    kiosk.PROGRESS: _progress,
    kiosk.DONE: _done,
    kiosk.ERROR: _error,
}


def _footer(p: Painter, state: kiosk.KioskApp, rect: pygame.Rect) -> None:
    problems = []
    if not state.online:
        problems.append(p.text("device_refused" if state.refused else "kiosk_offline"))
    problems += [p.text(problem) for problem in state.writer_problems if _known(p, problem)]
    if problems:
        p.canvas.fill(rect, WARNING)
        p.canvas.text(
            "  ".join(problems),
            (p.pad, rect.centery),
            int(p.unit * 0.8),
            WHITE,
            rect.width - 2 * p.pad,
            "midleft",
        )


def _known(p: Painter, key: str) -> bool:
    try:
        p.text(key)
    except KeyError:
        return False
    return True


def hit(targets: list[Target], position: tuple[int, int]) -> Target | None:
    """The touch target under a tap (the last drawn wins where they overlap)."""
    for target in reversed(targets):
        if target.rect.collidepoint(position):
            return target
    return None
