"""Checks that a text the layout says it placed is really in the pixels: every fully opaque
pixel of the text rendered alone must have the text's colour at the same place on screen."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame

from device_kit.screen import Canvas


def assert_drawn(canvas: Canvas, text: str) -> pygame.Rect:
    placed = canvas.find(text)
    assert placed is not None, f"{text!r} not placed; placed: {[p.text for p in canvas.placed]}"
    image = canvas.font(placed.size).render(text, True, placed.color)
    assert image.get_size() == placed.rect.size
    solid = [
        (x, y)
        for x in range(image.get_width())
        for y in range(image.get_height())
        if image.get_at((x, y)).a == 255
    ]
    assert len(solid) > 10, f"{text!r} renders (almost) nothing"
    on_screen = sum(
        1
        for x, y in solid
        if canvas.surface.get_at((placed.rect.x + x, placed.rect.y + y))[:3] == placed.color
    )
    # Something drawn later over the text (overlap) would break this.
    assert on_screen / len(solid) > 0.98, f"{text!r} is not visible where it was placed"
    return placed.rect


def colour_count(
    canvas: Canvas, color: tuple[int, int, int], rect: pygame.Rect | None = None
) -> int:
    area = canvas.surface.subsurface(rect) if rect else canvas.surface
    return int(pygame.mask.from_threshold(area, color, (1, 1, 1, 255)).count())
