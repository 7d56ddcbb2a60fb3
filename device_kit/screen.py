"""pygame drawing shared by the device screens: one CJK font at any size, text that fits its
box, a record of every text placed (what tests check against the pixels), PNG snapshots."""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pygame

from device_kit.fonts import cjk_font

Color = tuple[int, int, int]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placed:
    text: str
    rect: pygame.Rect
    size: int
    color: Color


@dataclass
class Canvas:
    surface: pygame.Surface
    font_path: Path
    placed: list[Placed] = field(default_factory=list)
    _fonts: dict[int, pygame.font.Font] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return self.surface.get_width()

    @property
    def height(self) -> int:
        return self.surface.get_height()

    def font(self, size: int) -> pygame.font.Font:
        if size not in self._fonts:
            self._fonts[size] = pygame.font.Font(str(self.font_path), size)
        return self._fonts[size]

    def clear(self, color: Color) -> None:
        self.placed.clear()
        self.surface.fill(color)

    def fill(self, rect: pygame.Rect, color: Color, radius: int = 0) -> None:
        pygame.draw.rect(self.surface, color, rect, border_radius=radius)

    def text(
        self,
        text: str,
        pos: tuple[int, int],
        size: int,
        color: Color,
        max_width: int | None = None,
        anchor: str = "topleft",
    ) -> pygame.Rect:
        """Draw ``text``; shrink the font until it fits ``max_width`` (never below 12 px)."""
        font = self.font(size)
        while max_width is not None and size > 12 and font.size(text)[0] > max_width:
            size = max(12, int(size * 0.9))
            font = self.font(size)
        image = font.render(text, True, color)
        rect = image.get_rect(**{anchor: pos})
        self.surface.blit(image, rect)
        self.placed.append(Placed(text, rect, size, color))
        return rect

    def image(self, image: pygame.Surface, topleft: tuple[int, int], height: int) -> pygame.Rect:
        """Draw ``image`` scaled to ``height``, keeping its proportions (a logo)."""
        width = max(1, image.get_width() * height // max(1, image.get_height()))
        scaled = pygame.transform.smoothscale(image, (width, max(1, height)))
        return self.surface.blit(scaled, topleft)

    def show(self) -> None:
        """Put the frame on the screen (nothing to do for an off-screen canvas)."""
        if pygame.display.get_init() and pygame.display.get_surface() is self.surface:
            pygame.display.flip()

    def find(self, text: str) -> Placed | None:
        return next((p for p in self.placed if p.text == text), None)

    def save_png(self, folder: Path, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        temporary = folder / f".{name}"  # hidden until complete; pygame picks PNG by suffix
        pygame.image.save(self.surface, str(temporary))
        os.replace(temporary, path)
        return path


def load_image(data: bytes | None) -> pygame.Surface | None:
    """An image the core sent (the hospital logo), or None when there is none or pygame
    cannot read it (logged: the screen goes on without it)."""
    if not data:
        return None
    try:
        return pygame.image.load(io.BytesIO(data))
    except pygame.error as error:
        log.warning("the hospital logo is not an image pygame can read: %s", error)
        return None


def open_window(
    size: tuple[int, int] | None, fullscreen: bool, title: str, font: Path | None = None
) -> Canvas:
    """The program's one window (full screen on the device; any size with the dummy driver)."""
    pygame.display.init()
    pygame.font.init()
    flags = pygame.FULLSCREEN if fullscreen else 0
    surface = pygame.display.set_mode(size or (0, 0), flags)
    pygame.display.set_caption(title)
    pygame.mouse.set_visible(not fullscreen)
    return Canvas(surface, cjk_font(font))


def offscreen(size: tuple[int, int], font: Path | None = None) -> Canvas:
    """A canvas not shown anywhere (tests, raster tickets)."""
    pygame.font.init()
    return Canvas(pygame.Surface(size), cjk_font(font))
