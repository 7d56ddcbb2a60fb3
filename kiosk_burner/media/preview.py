"""JPEG previews of a series for the disc's web pages (PDI's web content: a person reading
the disc in a browser, not diagnosis): the middle image, windowed as a reader would see it."""

from __future__ import annotations

import logging
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import Dataset, dcmread
from pydicom.pixels import apply_modality_lut, apply_voi_lut

log = logging.getLogger(__name__)
# Without a window in the object: soft tissue for CT (W 400 / L 40); otherwise the 1st-99th
# percentile (MR and the rest have no absolute scale).
CT_WINDOW = (40.0, 400.0)
SIZE = 512


def window(pixels: np.ndarray, center: float, width: float) -> np.ndarray:
    """Linear window (PS3.3 C.11.2.1.2.1, simplified) to 0-255."""
    low = center - width / 2
    scaled = (pixels.astype(np.float64) - low) / max(width, 1.0) * 255.0
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _grey(ds: Dataset, arr: np.ndarray) -> np.ndarray:
    values = apply_modality_lut(arr, ds)
    if "WindowCenter" in ds and "WindowWidth" in ds:
        shown = apply_voi_lut(values, ds)
        low, high = float(np.min(shown)), float(np.max(shown))
        out = window(shown, (low + high) / 2, high - low) if high > low else shown * 0
    elif getattr(ds, "Modality", "") == "CT":
        out = window(values, *CT_WINDOW)
    else:
        low, high = np.percentile(values, [1, 99])
        out = window(values, (low + high) / 2, float(high - low) or 1.0)
    if getattr(ds, "PhotometricInterpretation", "") == "MONOCHROME1":
        out = 255 - out
    return out.astype(np.uint8)


def render(path: Path) -> bytes | None:
    """The JPEG of one object, or None when its pixels cannot be decoded here (the disc
    keeps the object; only its preview is missing)."""
    try:
        ds = dcmread(path)
        arr = ds.pixel_array
        if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
            arr = arr[len(arr) // 2]
        if int(getattr(ds, "SamplesPerPixel", 1)) == 3:
            image = Image.fromarray(np.asarray(arr, dtype=np.uint8), "RGB")
        else:
            image = Image.fromarray(_grey(ds, arr), "L")
    except Exception as error:  # any codec or attribute gap: no preview
        log.warning("no preview for %s: %r", path, error)
        return None
    image.thumbnail((SIZE, SIZE))
    out = BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
