"""Key images for print: greyscale windowed, colour in its true colours whatever its stored
form (RGB, YBR, JPEG, RLE, 16 bits), the chosen frame of a multi-frame object."""

from __future__ import annotations

from io import BytesIO

import numpy as np
from PIL import Image

from core_server.reporting.output.images import render_png
from tests.dicom_data import testdata


def rendered(name: str, frame: int = 1) -> np.ndarray:
    return np.asarray(Image.open(BytesIO(render_png(testdata(name), frame))), dtype=int)


def test_colour_images_print_in_their_colours_whatever_their_encoding() -> None:
    reference = rendered("SC_rgb_rle.dcm")  # 100 x 100 colour bars, RGB
    assert reference.shape == (100, 100, 3)
    assert (reference.max(axis=(0, 1)) > 200).all()  # red, green and blue all present
    for name in ("SC_ybr_full_422_uncompressed.dcm", "SC_rgb_jpeg_gdcm.dcm"):
        other = rendered(name)
        assert other.shape == reference.shape
        assert np.abs(other - reference).mean() < 8, name  # lossy/YBR rounding only
    sixteen = rendered("SC_rgb_rle_16bit.dcm")
    assert np.abs(sixteen - reference).mean() < 2


def test_the_chosen_frame_of_a_multi_frame_object() -> None:
    first, second = rendered("SC_rgb_rle_2frame.dcm", 1), rendered("SC_rgb_rle_2frame.dcm", 2)
    assert not np.array_equal(first, second)
    assert np.array_equal(rendered("SC_rgb_rle_2frame.dcm", 9), second)  # past the end: last


def test_greyscale_images_use_the_full_grey_range_and_fit_the_print_size() -> None:
    ct = rendered("CT_small.dcm")
    assert ct.ndim == 2 and ct.min() == 0 and ct.max() == 255
    assert rendered("JPEG2000.dcm").shape == (600, 150)  # a tall image fits 600 x 600
