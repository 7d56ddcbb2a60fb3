"""The one film layout: box positions per display format, sheet sizes, and the composed sheet
pixel by pixel."""

from __future__ import annotations

import numpy as np
import pytest

from core_server.film.sheet import (
    BORDER_PIXELS,
    FilmSheet,
    ImageBox,
    compose,
    layout,
    sheet_pixels,
)
from core_server.refusals import Invalid


def test_standard_boxes_run_left_to_right_then_down() -> None:
    boxes = layout("STANDARD\\3,2", 300, 200)
    assert [(b.position, b.left, b.top) for b in boxes] == [
        (1, 0, 0),
        (2, 100, 0),
        (3, 200, 0),
        (4, 0, 100),
        (5, 100, 100),
        (6, 200, 100),
    ]
    assert {(b.width, b.height) for b in boxes} == {(100, 100)}


def test_row_and_col_formats() -> None:
    rows = layout("ROW\\1,2", 200, 200)
    assert [(b.left, b.top, b.width, b.height) for b in rows] == [
        (0, 0, 200, 100),
        (0, 100, 100, 100),
        (100, 100, 100, 100),
    ]
    cols = layout("COL\\2,1", 200, 200)
    assert [(b.left, b.top, b.width, b.height) for b in cols] == [
        (0, 0, 100, 100),
        (0, 100, 100, 100),
        (100, 0, 100, 200),
    ]


@pytest.mark.parametrize(
    "bad", ["SLIDE", "STANDARD\\0,2", "STANDARD\\a,b", "STANDARD\\2", "X\\1,1"]
)
def test_unsupported_formats_are_refused(bad: str) -> None:
    with pytest.raises(Invalid) as refused:
        layout(bad, 100, 100)
    assert refused.value.code == "film.display_format"


def test_sheet_sizes() -> None:
    assert sheet_pixels("14INX17IN", "PORTRAIT", 100) == (1400, 1700)
    assert sheet_pixels("14INX17IN", "LANDSCAPE", 100) == (1700, 1400)
    with pytest.raises(Invalid):
        sheet_pixels("99INX99IN", "PORTRAIT", 100)


def test_composed_sheet_puts_each_image_in_its_box() -> None:
    # 8x10 in at 10 dpi: 80 x 100 pixels, 2 columns x 1 row: boxes 40 x 100.
    square = np.full((32, 32), 4095, dtype=np.uint16)  # 12-bit white
    sheet = FilmSheet(
        display_format="STANDARD\\2,1",
        film_size="8INX10IN",
        empty_image_density="WHITE",
        images=[ImageBox(position=1, pixels=square, bits_stored=12)],
    )
    film = np.asarray(compose(sheet, dpi=10))
    assert film.shape == (100, 80)
    inner = 40 - 2 * BORDER_PIXELS  # 32: the square fits exactly, centred vertically
    top = (100 - inner) // 2
    assert (film[top : top + inner, BORDER_PIXELS : BORDER_PIXELS + inner] == 255).all()
    assert film[top - 1, 20] == 0 and film[0, 0] == 0  # black border around it
    assert (
        film[BORDER_PIXELS:-BORDER_PIXELS, 40 + BORDER_PIXELS : 80 - BORDER_PIXELS] == 255
    ).all()


def test_monochrome1_and_reverse_polarity_invert() -> None:
    gradient = np.arange(8, dtype=np.uint8).reshape(1, 8) * 32
    plain = ImageBox(1, gradient)
    m1 = ImageBox(1, gradient, photometric="MONOCHROME1")
    both = ImageBox(1, gradient, photometric="MONOCHROME1", polarity="REVERSE")

    def shown(box: ImageBox) -> np.ndarray:
        sheet = FilmSheet(
            display_format="STANDARD\\1,1",
            film_size="8INX10IN",
            images=[box],
            magnification="REPLICATE",
        )
        return np.asarray(compose(sheet, dpi=10))

    assert (shown(m1)[50, 10:70] == 255 - shown(plain)[50, 10:70]).all()
    assert (shown(both) == shown(plain)).all()


def test_colour_sheet_keeps_colour() -> None:
    red = np.zeros((10, 10, 3), dtype=np.uint8)
    red[..., 0] = 200
    sheet = FilmSheet(
        display_format="STANDARD\\1,1",
        film_size="8INX10IN",
        color=True,
        images=[ImageBox(1, red, photometric="RGB")],
    )
    film = np.asarray(compose(sheet, dpi=10))
    assert film.shape == (100, 80, 3)
    assert tuple(film[50, 40]) == (200, 0, 0)
