"""Drawing the check-in kiosk (pygame): the welcome, the ticket number(s) just issued, the
core's refusal, and the printer's and network's state for the patient and the staff."""

from __future__ import annotations

import pygame

from device_kit.i18n import Messages
from device_kit.screen import Canvas, Color
from ticket_printer.app import CHECKING_IN, IDLE, TICKETS, KioskApp

BACKGROUND: Color = (236, 244, 252)
HEADER: Color = (10, 80, 160)
TEXT: Color = (20, 30, 45)
DIM: Color = (90, 100, 115)
NUMBER: Color = (10, 80, 160)
WARNING: Color = (200, 30, 30)
WHITE: Color = (255, 255, 255)


def draw(
    canvas: Canvas,
    app: KioskApp,
    text: Messages,
    hospital: str = "",
    logo: pygame.Surface | None = None,
) -> None:
    canvas.clear(BACKGROUND)
    w, h = canvas.width, canvas.height
    unit = min(w, h) // 14
    pad = max(8, unit // 2)
    bar = pygame.Rect(0, 0, w, int(unit * 2))
    canvas.fill(bar, HEADER)
    x = pad
    if logo is not None:
        x = canvas.image(logo, (x, bar.top + pad // 2), bar.height - pad).right + pad // 2
    canvas.text(hospital, (x, bar.centery), unit, WHITE, int(w * 0.65) - x, "midleft")
    canvas.text(app.now.strftime("%H:%M:%S"), (w - pad, bar.centery), unit, WHITE, None, "midright")
    footer = pygame.Rect(0, h - int(unit * 1.6), w, int(unit * 1.6))
    body = pygame.Rect(pad, bar.bottom + pad, w - 2 * pad, footer.top - bar.bottom - 2 * pad)
    if app.screen == IDLE:
        canvas.text(
            text("welcome"),
            (body.centerx, body.centery - unit),
            int(unit * 1.3),
            TEXT,
            body.width,
            "center",
        )
        canvas.text(
            text("welcome_hint"),
            (body.centerx, body.centery + unit),
            int(unit * 0.8),
            DIM,
            body.width,
            "center",
        )
    elif app.screen == CHECKING_IN:
        canvas.text(text("checking_in"), body.center, int(unit * 1.2), TEXT, body.width, "center")
    elif app.screen == TICKETS:
        _tickets(canvas, app, text, unit, body)
    else:
        message = app.message or {}
        line = text(message["key"]) if "key" in message else message.get("text", "")
        canvas.text(line, body.center, int(unit * 1.1), WARNING, body.width, "center")
    _footer(canvas, app, text, unit, pad, footer)


def _tickets(canvas: Canvas, app: KioskApp, text: Messages, unit: int, body: pygame.Rect) -> None:
    n = len(app.tickets)
    width = body.width // max(1, n)
    for i, ticket in enumerate(app.tickets):
        x = body.left + i * width + width // 2
        y = body.top
        queue = str(ticket.get("queue_name") or ticket.get("queue") or "")
        y = canvas.text(queue, (x, y), unit, TEXT, width, "midtop").bottom
        y = canvas.text(
            text("your_number"), (x, y + unit // 2), int(unit * 0.8), DIM, width, "midtop"
        ).bottom
        y = canvas.text(
            str(ticket.get("number", "")), (x, y), unit * 3, NUMBER, width, "midtop"
        ).bottom
        ahead = text("ahead", n=int(ticket.get("waiting_ahead") or 0))
        canvas.text(ahead, (x, y), unit, TEXT, width, "midtop")
    note = text("print_failed_note") if app.printer_problem else text("take_ticket")
    color = WARNING if app.printer_problem else TEXT
    canvas.text(note, (body.centerx, body.bottom), int(unit * 0.9), color, body.width, "midbottom")


def _footer(
    canvas: Canvas, app: KioskApp, text: Messages, unit: int, pad: int, rect: pygame.Rect
) -> None:
    problems = []
    if not app.online:
        problems.append(text("device_refused" if app.refused else "kiosk_offline"))
    if app.printer_problem:
        problems.append(text(app.printer_problem))
    elif app.paper_low:
        problems.append(text("paper_low"))
    if app.unprinted and app.printer_problem:
        problems.append(text("unprinted", n=app.unprinted))
    if not app.scanner_ok:
        problems.append(text("scanner_offline"))
    if problems:
        canvas.fill(rect, WARNING)
        canvas.text(
            "  ".join(problems),
            (pad, rect.centery),
            int(unit * 0.8),
            WHITE,
            rect.width - 2 * pad,
            "midleft",
        )
