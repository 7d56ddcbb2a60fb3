"""Key images for the printed report: a stored frame read with pydicom, its modality LUT and
the object's own window (or a min-max stretch) applied, scaled for paper, encoded as PNG."""

from __future__ import annotations

import logging
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array

log = logging.getLogger(__name__)
PRINT_SIZE = (600, 600)  # pixels: about 5 cm at 300 dpi, sharp enough for a report page


def render_png(path: Path, frame: int = 1, size: tuple[int, int] = PRINT_SIZE) -> bytes:
    """One frame of a stored object as a PNG (greyscale or RGB)."""
    ds = dcmread(path)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    index = min(max(frame, 1), frames) - 1
    pixels = pixel_array(ds, index=index if frames > 1 else None)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric.startswith("MONOCHROME"):
        values = apply_modality_lut(pixels, ds).astype(np.float64)
        if "WindowCenter" in ds and "WindowWidth" in ds:
            values = apply_voi_lut(values, ds, index=0).astype(np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low or 1.0) * 255.0
        if photometric == "MONOCHROME1":
            scaled = 255.0 - scaled
        image = Image.fromarray(scaled.astype(np.uint8))
    else:
        # pydicom hands colour frames over as RGB already (YBR converted), 8 bits or more.
        if pixels.dtype != np.uint8:
            bits = int(ds.get("BitsStored", 8) or 8)
            pixels = pixels.astype(np.float64) / ((1 << bits) - 1) * 255.0
        image = Image.fromarray(pixels.astype(np.uint8))
    image.thumbnail(size)
    out = BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
