"""Rendered frames from the caches (``core_server.dicomweb.rendered_cache``): the same
request gives the same image, another window is rendered from the decoded frame, a rewritten
file is rendered anew, and the caches stay within their byte budgets."""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core_server.dicomweb import rendering
from core_server.dicomweb.rendered_cache import ByteBudget
from tests.dicom_data import make_ct, write


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    rendering.IMAGES.clear()
    rendering.FRAMES.clear()


def pixels_of(jpeg_or_png: bytes) -> np.ndarray:
    return np.asarray(Image.open(BytesIO(jpeg_or_png)))


def test_a_frame_is_decoded_once_and_rendered_per_window(tmp_path: Path) -> None:
    path = write(make_ct(size=64), tmp_path)
    plain = rendering.Rendering(media_type="image/png")
    first = rendering.render(path, 1, plain)
    assert rendering.render(path, 1, plain) == first
    assert len(rendering.IMAGES) == 1 and len(rendering.FRAMES) == 1
    narrow = rendering.Rendering("image/png", rendering.Window(100.0, 50.0))
    windowed = rendering.render(path, 1, narrow)
    assert len(rendering.IMAGES) == 2 and len(rendering.FRAMES) == 1  # decoded once
    # the same as rendering from the file with nothing cached
    rendering.IMAGES.clear()
    rendering.FRAMES.clear()
    assert rendering.render(path, 1, narrow) == windowed
    assert not np.array_equal(pixels_of(windowed), pixels_of(first))


def test_a_rewritten_file_is_rendered_anew(tmp_path: Path) -> None:
    path = write(make_ct(size=64, instance_number=1), tmp_path)
    how = rendering.Rendering(media_type="image/png", window=rendering.Window(500.0, 1000.0))
    before = rendering.render(path, 1, how)
    other = write(make_ct(size=64, instance_number=3), tmp_path / "other")
    os.replace(other, path)
    assert rendering.render(path, 1, how) != before


def test_the_caches_keep_to_their_budget() -> None:
    cache: ByteBudget[bytes] = ByteBudget(1000, len)
    for key in range(10):
        cache.put(key, bytes(200))
    assert len(cache) == 5  # 5 x 200 bytes
    assert cache.get(0) is None and cache.get(9) == bytes(200)
    cache.get(5)  # used: now the newest
    cache.put("new", bytes(200))
    assert cache.get(5) is not None and cache.get(6) is None
    cache.put("big", bytes(300))  # over a quarter of the budget: not kept
    assert cache.get("big") is None
