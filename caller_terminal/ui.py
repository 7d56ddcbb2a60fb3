"""Drawing the caller terminal (pygame, a small touchscreen or any monitor): the current patient,
the waiting count, the last answer, and the buttons (which are also the touch targets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pygame

from caller_terminal.app import CallerApp
from device_kit.i18n import Messages
from device_kit.screen import Canvas, Color

BACKGROUND: Color = (245, 247, 250)
TEXT: Color = (20, 30, 45)
DIM: Color = (100, 110, 125)
BUTTON: Color = (25, 100, 200)
BUTTON_TEXT: Color = (255, 255, 255)
SELECTED: Color = (255, 210, 60)
ERROR: Color = (200, 30, 30)
OK: Color = (30, 140, 60)
OFFLINE: Color = (200, 30, 30)

MAIN_BUTTONS: tuple[str, ...] = ("call_next", "recall", "missed", "start", "finish", "choose")
CHOOSE_BUTTONS: tuple[str, ...] = ("up", "down", "confirm", "cancel")


@dataclass(frozen=True)
class Target:
    """A touch target: a command, or calling one patient by ticket id."""

    rect: pygame.Rect
    command: str
    ticket_id: int | None = None


def draw(canvas: Canvas, app: CallerApp, text: Messages, pending: int = 0) -> list[Target]:
    canvas.clear(BACKGROUND)
    w, h = canvas.width, canvas.height
    portrait = h > w
    unit = min(w, h) // 12  # base font size
    pad = max(6, unit // 3)
    _header(canvas, app, text, unit, pad, pending)
    top = int(unit * 2.2)
    # The choice list needs the room: its four buttons take one row (two in portrait).
    if app.choosing:
        buttons_height = int(h * (0.22 if portrait else 0.18))
    else:
        buttons_height = int(h * (0.4 if portrait else 0.33))
    body = pygame.Rect(pad, top, w - 2 * pad, h - top - buttons_height - 2 * pad)
    area = pygame.Rect(pad, h - buttons_height - pad, w - 2 * pad, buttons_height)
    targets: list[Target] = []
    if app.choosing:
        targets += _choices(canvas, app, text, unit, pad, body)
        names = CHOOSE_BUTTONS
    else:
        _current(canvas, app, text, unit, pad, body)
        names = MAIN_BUTTONS
    columns = 2 if portrait else 3 if len(names) > 4 else 4
    targets += _buttons(canvas, text, names, columns, unit, pad, area)
    return targets


def _header(
    canvas: Canvas, app: CallerApp, text: Messages, unit: int, pad: int, pending: int
) -> None:
    w = canvas.width
    bar = pygame.Rect(0, 0, w, int(unit * 1.9))
    canvas.fill(bar, TEXT)
    room = (app.state or {}).get("room") or {}
    title = room.get("name") or app.room or ""
    state = room.get("state")
    if state:
        title += " · " + text(f"room_{state}")
    canvas.text(title, (pad, bar.centery), unit, BUTTON_TEXT, w // 2, "midleft")
    right = text("waiting_count", n=app.waiting_count)
    if pending:
        right = text("pending", n=pending) + "  " + right
    if not app.online:
        right = text("device_refused" if app.refused else "offline") + "  " + right
    color = OFFLINE if not app.online else BUTTON_TEXT
    canvas.text(right, (w - pad, bar.centery), int(unit * 0.7), color, w // 2, "midright")


def _current(
    canvas: Canvas, app: CallerApp, text: Messages, unit: int, pad: int, body: pygame.Rect
) -> None:
    current = app.current
    y = body.top
    if app.room is None:
        key = "not_bound" if app.online else "waiting_for_core"
        canvas.text(text(key), body.center, unit, DIM, body.width, "center")
    elif current is None:
        canvas.text(text("no_current"), (body.left, y), int(unit * 1.3), DIM, body.width)
    else:
        line = f"{current.get('number', '')}  {current.get('name', '')}"
        y = canvas.text(line, (body.left, y), int(unit * 1.5), TEXT, body.width).bottom
        details = "  ".join(
            v for v in (patient_line(current, text), str(current.get("exam") or "")) if v
        )
        if details:
            y = canvas.text(details, (body.left, y), int(unit * 0.8), DIM, body.width).bottom
        if current.get("status") == "in_progress":
            status, color = text("status_in_progress"), OK
        else:
            status, color = text("status_called", n=current.get("call_count", 1)), BUTTON
        canvas.text(status, (body.left, y), int(unit * 0.8), color, body.width)
    _notice(canvas, app, text, unit, body)


def _notice(canvas: Canvas, app: CallerApp, text: Messages, unit: int, body: pygame.Rect) -> None:
    notice = app.notice
    if notice is None:
        return
    line = notice.core_text if notice.core_text is not None else text(notice.key, **notice.values)
    color = ERROR if notice.error else OK
    canvas.text(line, (body.left, body.bottom), int(unit * 0.8), color, body.width, "bottomleft")


def _choices(
    canvas: Canvas, app: CallerApp, text: Messages, unit: int, pad: int, body: pygame.Rect
) -> list[Target]:
    y = canvas.text(text("choose_title"), (body.left, body.top), unit, TEXT, body.width).bottom
    step = int(unit * 1.4)
    rows = max(1, (body.bottom - y - unit) // step)
    choices = app.choices
    if not choices:
        canvas.text(text("nobody_to_choose"), (body.left, y + pad), unit, DIM)
        return []
    first = max(0, min(app.selected - rows // 2, len(choices) - rows))
    targets = []
    for index in range(first, min(len(choices), first + rows)):
        ticket = choices[index]
        row = pygame.Rect(body.left, y + pad // 2, body.width, step - 4)
        if index == app.selected:
            canvas.fill(row, SELECTED, radius=pad)
        label = f"{ticket.get('number', '')}  {ticket.get('name', '')}  {ticket.get('exam', '')}"
        if ticket.get("status") == "missed" or ticket.get("missed_count"):
            label += f"  [{text('missed_mark')}]"
        canvas.text(
            label, (row.left + pad, row.centery), unit, TEXT, row.width - 2 * pad, "midleft"
        )
        targets.append(Target(row, "call", int(ticket["id"])))
        y += step
    return targets


def _buttons(
    canvas: Canvas,
    text: Messages,
    names: tuple[str, ...],
    columns: int,
    unit: int,
    pad: int,
    area: pygame.Rect,
) -> list[Target]:
    rows = -(-len(names) // columns)
    width = (area.width - (columns - 1) * pad) // columns
    height = (area.height - (rows - 1) * pad) // rows
    targets = []
    for i, name in enumerate(names):
        row, column = divmod(i, columns)
        rect = pygame.Rect(
            area.left + column * (width + pad), area.top + row * (height + pad), width, height
        )
        canvas.fill(rect, BUTTON, radius=pad)
        canvas.text(text(name), rect.center, unit, BUTTON_TEXT, rect.width - pad, "center")
        targets.append(Target(rect, name))
    return targets


def hit(targets: list[Target], position: tuple[int, int]) -> Target | None:
    """The touch target under a tap (the last drawn wins where they overlap)."""
    for target in reversed(targets):
        if target.rect.collidepoint(position):
            return target
    return None


def patient_line(ticket: dict[str, Any], text: Messages) -> str:
    """Sex and age as the operator reads them: 女 · 36岁 (F · 36 y in English), from the
    core's F/M/O and DICOM-style age (36Y, 8M, 20D)."""
    sex = str(ticket.get("sex") or "").upper()
    parts = [text("sex_" + sex)] if sex in ("F", "M", "O") else []
    age = str(ticket.get("age") or "")
    if len(age) > 1 and age[:-1].isdigit() and age[-1].upper() in "YMWD":
        parts.append(text("age_" + age[-1].upper(), n=int(age[:-1])))
    elif age:
        parts.append(age)
    return " · ".join(parts)
