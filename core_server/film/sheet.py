"""A film sheet as DICOM Print Management describes it (Film Box + Image Boxes), and the one way
to lay it out and compose it into a picture. The Print SCP composes what a modality printed
(and archives it), the Print SCU sends the same boxes to a laser imager, and the web's film
composer builds one: all three share these types, so a sheet is drawn one way everywhere.

Display formats (PS3.3 C.13.8, Image Display Format): ``STANDARD\\C,R`` (C columns, R rows,
boxes numbered left to right, top to bottom), ``ROW\\a,b,...`` (one row per number, each row
split into that many boxes) and ``COL\\a,b,...`` (one column per number). Image box positions
are 1-based in that order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image

from core_server.refusals import Invalid

# Film Size ID (PS3.3 C.13.3) -> (width, height) in millimetres, portrait.
FILM_SIZES_MM: dict[str, tuple[float, float]] = {
    "8INX10IN": (203.2, 254.0),
    "8_5INX11IN": (215.9, 279.4),
    "10INX12IN": (254.0, 304.8),
    "10INX14IN": (254.0, 355.6),
    "11INX14IN": (279.4, 355.6),
    "11INX17IN": (279.4, 431.8),
    "14INX14IN": (355.6, 355.6),
    "14INX17IN": (355.6, 431.8),
    "24CMX24CM": (240.0, 240.0),
    "24CMX30CM": (240.0, 300.0),
    "A4": (210.0, 297.0),
    "A3": (297.0, 420.0),
}
DEFAULT_FILM_SIZE = "14INX17IN"
Orientation = Literal["PORTRAIT", "LANDSCAPE"]
Photometric = Literal["MONOCHROME1", "MONOCHROME2", "RGB"]
# Magnification Type -> how the box's picture is resized to its place on the film.
_RESAMPLE = {
    "REPLICATE": Image.Resampling.NEAREST,
    "NONE": Image.Resampling.NEAREST,
    "BILINEAR": Image.Resampling.BILINEAR,
    "CUBIC": Image.Resampling.BICUBIC,
}


@dataclass(frozen=True)
class Box:
    """Where an image box sits on the sheet, in pixels (left, top, width, height)."""

    position: int  # 1-based Image Box Position
    left: int
    top: int
    width: int
    height: int


@dataclass
class ImageBox:
    """One Image Box's content: the presentation values the printer is to print (PS3.4 H:
    P-values already windowed by the sender; 8 or 12 bits for grayscale, 8 for RGB)."""

    position: int
    pixels: np.ndarray  # (rows, columns) uint8/uint16, or (rows, columns, 3) uint8 for RGB
    photometric: Photometric = "MONOCHROME2"
    bits_stored: int = 8
    polarity: Literal["NORMAL", "REVERSE"] = "NORMAL"
    magnification: str = ""  # "" = the sheet's


@dataclass
class FilmSheet:
    """A Film Box: its layout, size and what is in its image boxes."""

    display_format: str = "STANDARD\\1,1"
    film_size: str = DEFAULT_FILM_SIZE
    orientation: Orientation = "PORTRAIT"
    magnification: str = "BILINEAR"
    border_density: str = "BLACK"  # between and around boxes: BLACK or WHITE
    empty_image_density: str = "BLACK"  # an empty box
    color: bool = False  # a Basic Color Print session
    images: list[ImageBox] = field(default_factory=list)

    @property
    def box_count(self) -> int:
        return len(layout(self.display_format, 1000, 1000))


def _numbers(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v < 1 or v > 20 for v in values):
        raise Invalid("film.display_format", value=text)
    return values


def layout(display_format: str, width: int, height: int) -> list[Box]:
    """The image boxes of a display format on a sheet of ``width`` x ``height`` pixels, in box
    position order. Unsupported formats are refused (Invalid ``film.display_format``)."""
    kind, _, values = display_format.strip().upper().partition("\\")
    numbers = _numbers(values)
    boxes: list[Box] = []
    if kind == "STANDARD" and len(numbers) == 2:
        columns, rows = numbers
        for r in range(rows):
            for c in range(columns):
                boxes.append(_cell(len(boxes) + 1, c, r, columns, rows, width, height))
    elif kind == "ROW":
        rows = len(numbers)
        for r, columns in enumerate(numbers):
            for c in range(columns):
                boxes.append(_cell(len(boxes) + 1, c, r, columns, rows, width, height))
    elif kind == "COL":
        columns = len(numbers)
        for c, rows in enumerate(numbers):
            for r in range(rows):
                boxes.append(_cell(len(boxes) + 1, c, r, columns, rows, width, height))
    else:
        raise Invalid("film.display_format", value=display_format)
    return boxes


def _cell(position: int, c: int, r: int, columns: int, rows: int, width: int, height: int) -> Box:
    left, right = c * width // columns, (c + 1) * width // columns
    top, bottom = r * height // rows, (r + 1) * height // rows
    return Box(position, left, top, right - left, bottom - top)


def sheet_pixels(film_size: str, orientation: str, dpi: int) -> tuple[int, int]:
    """The sheet's (width, height) in pixels at ``dpi``."""
    if film_size not in FILM_SIZES_MM:
        raise Invalid("film.film_size", value=film_size)
    w_mm, h_mm = FILM_SIZES_MM[film_size]
    if orientation == "LANDSCAPE":
        w_mm, h_mm = h_mm, w_mm
    return round(w_mm / 25.4 * dpi), round(h_mm / 25.4 * dpi)


BORDER_PIXELS = 4  # the border between boxes at the sheet's resolution, as laser imagers print


def _density(name: str) -> int:
    return 255 if name.upper() == "WHITE" else 0  # shown as displayed: BLACK film is 0


def box_picture(image: ImageBox, color: bool) -> Image.Image:
    """An image box's content as it looks on the film (MONOCHROME1 and REVERSE inverted,
    12-bit values scaled to 8)."""
    pixels = image.pixels
    if image.photometric == "RGB":
        picture = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB")
        return picture if color else picture.convert("L")
    values = pixels.astype(np.float64)
    top = float((1 << image.bits_stored) - 1)
    eight = np.clip(np.rint(values * 255.0 / top), 0, 255).astype(np.uint8)
    if (image.photometric == "MONOCHROME1") != (image.polarity == "REVERSE"):
        eight = 255 - eight
    picture = Image.fromarray(eight, "L")
    return picture.convert("RGB") if color else picture


def compose(sheet: FilmSheet, dpi: int) -> Image.Image:
    """The whole sheet as one picture (mode ``L``, or ``RGB`` for colour) at ``dpi``: each
    image fitted into its box keeping its aspect ratio, centred, on the border density."""
    width, height = sheet_pixels(sheet.film_size, sheet.orientation, dpi)
    mode = "RGB" if sheet.color else "L"
    border = _density(sheet.border_density)
    empty = _density(sheet.empty_image_density)
    film = Image.new(mode, (width, height), (border,) * 3 if sheet.color else border)
    by_position = {i.position: i for i in sheet.images}
    for box in layout(sheet.display_format, width, height):
        inner = (box.width - 2 * BORDER_PIXELS, box.height - 2 * BORDER_PIXELS)
        if inner[0] < 1 or inner[1] < 1:
            continue
        image = by_position.get(box.position)
        if image is None:
            fill = (empty,) * 3 if sheet.color else empty
            film.paste(
                Image.new(mode, inner, fill), (box.left + BORDER_PIXELS, box.top + BORDER_PIXELS)
            )
            continue
        picture = box_picture(image, sheet.color)
        scale = min(inner[0] / picture.width, inner[1] / picture.height)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        how = _RESAMPLE.get(
            (image.magnification or sheet.magnification).upper(), Image.Resampling.BILINEAR
        )
        picture = picture.resize(size, how)
        film.paste(
            picture,
            (box.left + (box.width - size[0]) // 2, box.top + (box.height - size[1]) // 2),
        )
    return film
