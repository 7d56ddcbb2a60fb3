"""Archived images as the printer is to print them: a frame read with pydicom, its modality LUT
and the window the user chose in the composer (or the object's own, or a min-max stretch)
applied, as 8-bit P-values (RGB kept for a colour printer). The film domain renders for
itself: reporting's renderer is a sibling domain's, and it scales for paper, not for film."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array


def windowed(
    path: Path | str,
    *,
    frame: int = 1,
    center: float | None = None,
    width: float | None = None,
    color: bool = False,
) -> np.ndarray:
    """One frame: (rows, columns) uint8, or (rows, columns, 3) for colour on a colour printer."""
    ds = dcmread(path)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    index = min(max(frame, 1), frames) - 1
    pixels = pixel_array(ds, index=index if frames > 1 else None)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if not photometric.startswith("MONOCHROME"):
        if pixels.dtype != np.uint8:
            bits = int(ds.get("BitsStored", 8) or 8)
            pixels = (pixels.astype(np.float64) / ((1 << bits) - 1) * 255.0).astype(np.uint8)
        rgb = np.asarray(pixels, dtype=np.uint8)
        return rgb if color else np.rint(rgb @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    values = apply_modality_lut(pixels, ds).astype(np.float64)
    if center is not None and width is not None and float(width) > 0:
        low = float(center) - float(width) / 2.0
        scaled = (values - low) / float(width) * 255.0
    else:
        if "WindowCenter" in ds and "WindowWidth" in ds:
            values = apply_voi_lut(values, ds, index=0).astype(np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low or 1.0) * 255.0
    eight = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    if photometric == "MONOCHROME1":
        eight = 255 - eight  # P-values: 0 is black on the film as shown
    return np.stack([eight] * 3, axis=-1) if color else eight


def stored_picture(path: Path | str, *, color: bool = False) -> np.ndarray:
    """An archived composed sheet (a Secondary Capture) as stored: no window of its own."""
    ds = dcmread(path)
    pixels = pixel_array(ds)
    if pixels.ndim == 3 and not color:
        return np.rint(pixels @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    if pixels.ndim == 2 and color:
        return np.stack([pixels.astype(np.uint8)] * 3, axis=-1)
    if pixels.dtype != np.uint8:
        bits = int(ds.get("BitsStored", 8) or 8)
        pixels = np.clip(pixels.astype(np.float64) / ((1 << bits) - 1) * 255.0, 0, 255)
    out = np.asarray(pixels, dtype=np.uint8)
    if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
        out = 255 - out
    return out
