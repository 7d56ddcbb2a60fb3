"""Drawing the waiting-room screen (pygame): landscape puts the queues side by side, portrait
stacks them. Everything drawn comes from ``ScreenView``; nothing here talks to the core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pygame

from device_kit.i18n import Messages
from device_kit.screen import Canvas, Color
from queue_display.app import QueuePanel, ScreenView

BACKGROUND: Color = (12, 38, 84)
PANEL: Color = (22, 56, 112)
HEADER: Color = (8, 26, 60)
TEXT: Color = (255, 255, 255)
DIM: Color = (170, 190, 220)
HIGHLIGHT: Color = (255, 196, 0)  # the current call's banner
HIGHLIGHT_TEXT: Color = (40, 20, 0)
FLASH: Color = (255, 120, 0)  # the banner's other colour while a new call blinks
OFFLINE: Color = (200, 30, 30)
ROOM_STATE: dict[str, Color] = {
    "idle": (40, 170, 80),
    "calling": (60, 140, 230),
    "busy": (240, 140, 20),
    "paused": (130, 130, 130),
}
EMERGENCY: Color = (255, 90, 90)


@dataclass(frozen=True)
class Sizes:
    title: int
    header: int
    list: int
    call: int
    clock: int

    @classmethod
    def for_view(cls, view: ScreenView, canvas: Canvas) -> Sizes:
        # The core's font sizes are for a 1080-pixel short side; scale to this screen.
        scale = min(canvas.width, canvas.height) / 1080
        f = view.fonts
        return cls(
            *(
                max(12, int(f.get(name, default) * scale))
                for name, default in (
                    ("title", 48),
                    ("header", 36),
                    ("list", 32),
                    ("call", 64),
                    ("clock", 28),
                )
            )
        )


def draw(
    canvas: Canvas,
    view: ScreenView,
    text: Messages,
    logo: pygame.Surface | None = None,
    speech_failed: bool = False,
) -> None:
    canvas.clear(BACKGROUND)
    sizes = Sizes.for_view(view, canvas)
    w, h = canvas.width, canvas.height
    pad = max(8, w // 80)
    header = pygame.Rect(0, 0, w, int(sizes.title * 2.2))
    _header(canvas, view, text, logo, sizes, header, pad)
    banner = pygame.Rect(0, header.bottom, w, int(sizes.call * 1.8))
    _banner(canvas, view, text, sizes, banner, pad)
    footer = pygame.Rect(0, h - int(sizes.list * 1.5), w, int(sizes.list * 1.5))
    body = pygame.Rect(pad, banner.bottom + pad, w - 2 * pad, footer.top - banner.bottom - 2 * pad)
    if not view.bound:
        key = "waiting_for_core" if not view.online else "not_bound"
        canvas.text(text(key), body.center, sizes.header, DIM, body.width, "center")
    elif not view.has_state:
        canvas.text(text("waiting_for_core"), body.center, sizes.header, DIM, body.width, "center")
    else:
        _panels(canvas, view, text, sizes, body, pad)
    _footer(canvas, view, text, sizes, footer, pad, speech_failed)


def _header(
    canvas: Canvas,
    view: ScreenView,
    text: Messages,
    logo: pygame.Surface | None,
    sizes: Sizes,
    rect: pygame.Rect,
    pad: int,
) -> None:
    canvas.fill(rect, HEADER)
    x = pad
    if logo is not None:
        x = canvas.image(logo, (x, rect.top + pad), rect.height - 2 * pad).right + pad
    clock_width = int(rect.width * 0.3)
    # Hospital name, then the waiting area's name on the same line.
    title = canvas.text(
        view.hospital, (x, rect.centery), sizes.title, TEXT, rect.width - x - clock_width, "midleft"
    )
    if view.screen_name:
        canvas.text(
            view.screen_name,
            (title.right + pad, title.bottom - pad // 2),
            sizes.clock,
            DIM,
            max(1, rect.width - clock_width - title.right - pad),
            "bottomleft",
        )
    now = view.now
    date = text("date", year=now.year, month=now.month, day=now.day)
    weekday = text(f"weekday_{now.weekday()}")
    canvas.text(
        f"{date} {weekday}",
        (rect.right - pad, rect.top + pad // 2),
        sizes.clock,
        DIM,
        None,
        "topright",
    )
    canvas.text(
        now.strftime("%H:%M:%S"),
        (rect.right - pad, rect.bottom - pad // 2),
        sizes.header,
        TEXT,
        None,
        "bottomright",
    )


def _banner(
    canvas: Canvas, view: ScreenView, text: Messages, sizes: Sizes, rect: pygame.Rect, pad: int
) -> None:
    call = view.current_call
    if call:
        canvas.fill(rect, FLASH if view.flash else HIGHLIGHT)
        line = text(
            "call_banner",
            number=call.get("number", ""),
            name=call.get("name", ""),
            room=call.get("room_name") or call.get("room", ""),
        )
        canvas.text(line, rect.center, sizes.call, HIGHLIGHT_TEXT, rect.width - 2 * pad, "center")
    else:
        canvas.fill(rect, PANEL)
        canvas.text(text("no_call"), rect.center, sizes.header, DIM, rect.width - 2 * pad, "center")


def _panels(
    canvas: Canvas, view: ScreenView, text: Messages, sizes: Sizes, body: pygame.Rect, pad: int
) -> None:
    n = max(1, len(view.queues))
    for i, panel in enumerate(view.queues):
        if view.orientation == "portrait":
            height = (body.height - (n - 1) * pad) // n
            rect = pygame.Rect(body.left, body.top + i * (height + pad), body.width, height)
        else:
            width = (body.width - (n - 1) * pad) // n
            rect = pygame.Rect(body.left + i * (width + pad), body.top, width, body.height)
        _panel(canvas, panel, text, sizes, rect, pad, view.orientation == "portrait")


def _panel(
    canvas: Canvas,
    panel: QueuePanel,
    text: Messages,
    sizes: Sizes,
    rect: pygame.Rect,
    pad: int,
    portrait: bool,
) -> None:
    canvas.fill(rect, PANEL, radius=pad)
    inner = rect.inflate(-2 * pad, -2 * pad)
    y = inner.top
    title = panel.name + (f" · {panel.department}" if panel.department else "")
    y = canvas.text(title, (inner.left, y), sizes.header, TEXT, inner.width).bottom + pad // 2
    # Rooms with their state colour.
    x = inner.left
    for room in panel.rooms:
        state = room.get("state", "idle")
        label = room.get("name", room.get("code", ""))
        if state in ROOM_STATE:
            label += " " + text("room_" + state)
        image_rect = canvas.text(label, (x + sizes.list // 2, y), int(sizes.list * 0.8), TEXT)
        pygame.draw.circle(
            canvas.surface,
            ROOM_STATE.get(state, DIM),
            (x + sizes.list // 4, image_rect.centery),
            sizes.list // 5,
        )
        x = image_rect.right + pad
    y += int(sizes.list * 1.0)
    counts = panel.counts
    line = "  ".join(
        text(f"count_{k}", n=counts.get(k, 0))
        for k in ("waiting", "called", "in_progress", "missed")
    )
    y = canvas.text(line, (inner.left, y), int(sizes.list * 0.8), DIM, inner.width).bottom + pad
    # Called and in exam: with the room, so a patient sees where to go.
    if portrait:
        left = pygame.Rect(inner.left, y, inner.width // 2 - pad // 2, inner.bottom - y)
        right = pygame.Rect(left.right + pad, y, inner.width - left.width - pad, inner.bottom - y)
    else:
        called_height = int(sizes.list * 1.3) * (1 + max(1, min(3, len(panel.called))))
        left = pygame.Rect(inner.left, y, inner.width, called_height)
        right = pygame.Rect(
            inner.left, left.bottom + pad, inner.width, inner.bottom - left.bottom - pad
        )
    _list(
        canvas,
        text("called"),
        [_called_line(t, text) for t in panel.called],
        text,
        sizes,
        left,
        HIGHLIGHT,
    )
    waiting = [_waiting_line(t, text) for t in panel.waiting]
    title = text("waiting")
    if panel.pages > 1:
        title += "  " + text("page", page=panel.page, pages=panel.pages)
    bottom = _list(canvas, title, waiting, text, sizes, right, TEXT)
    if panel.missed:
        missed = (
            text("missed")
            + ": "
            + "  ".join(f"{t.get('number', '')} {t.get('name', '')}" for t in panel.missed)
        )
        canvas.text(
            missed,
            (inner.left, min(bottom, inner.bottom - sizes.list)),
            int(sizes.list * 0.7),
            DIM,
            inner.width,
        )


def _called_line(ticket: dict[str, Any], text: Messages) -> tuple[str, Color]:
    status = "status_in_progress" if ticket.get("status") == "in_progress" else "status_called"
    room = ticket.get("room_name") or ticket.get("room", "")
    return (
        f"{ticket.get('number', '')}  {ticket.get('name', '')}  {room}  {text(status)}",
        HIGHLIGHT,
    )


def _waiting_line(ticket: dict[str, Any], text: Messages) -> tuple[str, Color]:
    marks = ""
    color = TEXT
    if ticket.get("priority") == "emergency":
        marks, color = text("priority_emergency"), EMERGENCY
    elif ticket.get("priority"):
        marks = text("priority_other")
    if ticket.get("returned"):
        marks += text("returned")
    line = f"{ticket.get('number', '')}  {ticket.get('name', '')}"
    return (f"{line}  [{marks}]" if marks else line), color


def _list(
    canvas: Canvas,
    title: str,
    lines: list[tuple[str, Color]],
    text: Messages,
    sizes: Sizes,
    rect: pygame.Rect,
    title_color: Color,
) -> int:
    y = canvas.text(
        title, (rect.left, rect.top), int(sizes.list * 0.9), title_color, rect.width
    ).bottom
    step = int(sizes.list * 1.3)
    if not lines:
        return canvas.text(text("empty"), (rect.left, y + 4), sizes.list, DIM).bottom
    for line, color in lines:
        if y + step > rect.bottom:
            break
        y = canvas.text(line, (rect.left, y + 4), sizes.list, color, rect.width).top + step
    return y


def _footer(
    canvas: Canvas,
    view: ScreenView,
    text: Messages,
    sizes: Sizes,
    rect: pygame.Rect,
    pad: int,
    speech_failed: bool,
) -> None:
    canvas.fill(rect, HEADER)
    x = rect.left + pad
    if not view.online:
        key = "device_refused" if view.refused else "offline"
        label = canvas.font(int(sizes.list * 0.8)).size(text(key))
        badge = pygame.Rect(x, rect.top + 4, label[0] + 2 * pad, rect.height - 8)
        canvas.fill(badge, OFFLINE, radius=pad // 2)
        canvas.text(text(key), badge.center, int(sizes.list * 0.8), TEXT, None, "center")
        x = badge.right + pad
    if speech_failed:
        canvas.text(
            text("speech_failed"),
            (x, rect.centery),
            int(sizes.list * 0.8),
            OFFLINE,
            None,
            "midleft",
        )
