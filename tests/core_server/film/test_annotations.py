"""Annotation texts drawn below a composed film: the film (its image boxes) unchanged, the text
at its position in the band, Chinese drawn with real glyphs, long texts kept in their place."""

from __future__ import annotations

import numpy as np

from core_server.film.annotations import POSITIONS, annotate, band_height
from core_server.film.sheet import FilmSheet, ImageBox, compose

DPI = 60


def _sheet(**values: object) -> FilmSheet:
    gradient = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    return FilmSheet("STANDARD\\2,1", "8INX10IN", images=[ImageBox(1, gradient)], **values)  # type: ignore[arg-type]


def _columns(band: np.ndarray) -> list[bool]:
    """Which of the band's positions has ink (differs from the band's background)."""
    width = band.shape[1] // POSITIONS
    background = band[0, 0]
    return [bool((band[:, i * width : (i + 1) * width] != background).any()) for i in range(4)]


def test_text_below_the_film_and_the_boxes_unchanged() -> None:
    film = compose(_sheet(), DPI)
    out = np.asarray(annotate(film, {1: "王建国 CT20260301", 3: "2026-03-01"}, DPI))
    assert out.shape == (film.height + band_height(DPI), film.width)
    assert np.array_equal(out[: film.height], np.asarray(film))  # image boxes as composed
    band = out[film.height :]
    assert _columns(band) == [True, False, True, False]
    assert band.max() > 200  # light text on the black border density


def test_no_text_no_band() -> None:
    film = compose(_sheet(), DPI)
    assert annotate(film, {}, DPI) is film
    assert annotate(film, {2: "  "}, DPI) is film


def test_chinese_glyphs_are_drawn_not_boxes() -> None:
    film = compose(_sheet(), DPI)
    one = np.asarray(annotate(film, {1: "王建国"}, DPI))
    other = np.asarray(annotate(film, {1: "国建王"}, DPI))
    # A font without these glyphs draws the same empty box three times: the same pixels.
    assert not np.array_equal(one, other)


def test_white_border_gets_black_text_and_long_text_stays_in_place() -> None:
    film = compose(_sheet(border_density="WHITE", color=True), DPI)
    out = np.asarray(annotate(film, {2: "名" * 200}, DPI))
    band = out[film.height :]
    assert band.shape[2] == 3 and band[0, 0].tolist() == [255, 255, 255]
    assert band.min() < 60  # dark text
    assert _columns(band) == [False, True, False, False]  # cut to fit position 2
