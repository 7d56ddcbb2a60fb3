"""Rendered images and thumbnails (PS3.18 8.3.5, WADO-URI): a frame decoded (pydicom with
pylibjpeg/pyjpegls for compressed syntaxes), its modality LUT and a VOI window applied, scaled
to a viewport and encoded as JPEG or PNG (numpy and Pillow)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import Dataset, dcmread
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, pixel_array

from core_server.dicomweb.instances import NotAvailable, frame_count, header
from core_server.dicomweb.rendered_cache import FRAMES_BYTES, IMAGES_BYTES, ByteBudget

MEDIA_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG"}
THUMBNAIL_SIZE = (128, 128)
_READ_WHOLE = 16 << 20  # bytes
IMAGES: ByteBudget[bytes] = ByteBudget(IMAGES_BYTES, len)
FRAMES: ByteBudget[tuple[Dataset, np.ndarray]] = ByteBudget(
    FRAMES_BYTES, lambda found: int(found[1].nbytes) + 4096
)


class RenderError(ValueError):
    """The request's rendering parameters are not valid (400)."""


@dataclass(frozen=True)
class Window:
    center: float
    width: float
    function: str = "LINEAR"  # LINEAR, LINEAR_EXACT or SIGMOID (PS3.3 C.11.2.1.2)


@dataclass(frozen=True)
class Rendering:
    media_type: str = "image/jpeg"
    window: Window | None = None
    viewport: tuple[int, int] | None = None  # (width, height) to fit into
    quality: int = 90


def parse_window(value: str | None) -> Window | None:
    """``window=center,width[,function]`` of a rendered request."""
    if not value:
        return None
    parts = [p.strip() for p in value.split(",")]
    try:
        center, width = float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        raise RenderError("window must be center,width[,function]") from None
    function = (parts[2] if len(parts) > 2 else "linear").upper().replace("-", "_")
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        raise RenderError(f"unknown window function {parts[2]!r}")
    if width <= 0 or (function == "LINEAR" and width < 1):
        raise RenderError("window width must be positive (at least 1 for linear)")
    return Window(center, width, function)


def parse_viewport(value: str | None) -> tuple[int, int] | None:
    """``viewport=width,height`` (the region parameters after them are not supported)."""
    if not value:
        return None
    parts = value.split(",")
    try:
        width, height = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        raise RenderError("viewport must be width,height") from None
    if not (0 < width <= 8192 and 0 < height <= 8192):
        raise RenderError("viewport sizes must be between 1 and 8192")
    return width, height


def render(path: Path, frame: int, rendering: Rendering) -> bytes:
    """One frame (1-based) of a stored object as an image (cached: see
    :mod:`~core_server.dicomweb.rendered_cache`)."""
    st = path.stat()
    stamp = (str(path), st.st_size, st.st_mtime_ns, frame)
    image = IMAGES.get((stamp, rendering))
    if image is None:
        image = _encoded(_decoded(path, st.st_size, frame, stamp), rendering)
        IMAGES.put((stamp, rendering), image)
    return image


def _decoded(path: Path, size: int, frame: int, stamp: Hashable) -> tuple[Dataset, np.ndarray]:
    """The header and the stored values of one frame."""
    found = FRAMES.get(stamp)
    if found is not None:
        return found
    # A small object is read once, header and pixels; from a large one (a cine loop) only the
    # header and the one frame.
    small = size <= _READ_WHOLE
    ds = dcmread(path) if small else header(path)
    if "Rows" not in ds or (small and "PixelData" not in ds):
        raise NotAvailable("the object has no pixel data to render")
    count = frame_count(ds)
    if not 1 <= frame <= count:
        raise NotAvailable(f"frame {frame} does not exist: the object has {count}")
    # Colour is converted to RGB.
    pixels = pixel_array(ds if small else path, index=frame - 1 if count > 1 else None)
    if "PixelData" in ds:
        del ds.PixelData  # decoded now; the cached header need not hold it twice
    pixels.flags.writeable = False  # shared by the requests that render it
    FRAMES.put(stamp, (ds, pixels))
    return ds, pixels


def _encoded(decoded: tuple[Dataset, np.ndarray], rendering: Rendering) -> bytes:
    ds, pixels = decoded
    image = Image.fromarray(_display(ds, pixels, rendering.window))
    if rendering.viewport:
        image.thumbnail(rendering.viewport, Image.Resampling.LANCZOS)
    buffer = BytesIO()
    kind = MEDIA_TYPES[rendering.media_type]
    if kind == "JPEG":
        image.save(buffer, "JPEG", quality=rendering.quality)
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _display(ds: Dataset, pixels: np.ndarray, window: Window | None) -> np.ndarray:
    """8-bit greyscale or RGB for the screen."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric == "PALETTE COLOR":
        pixels = apply_color_lut(pixels, ds)
    if pixels.ndim == 3 or int(ds.get("SamplesPerPixel", 1)) > 1 or photometric == "PALETTE COLOR":
        if pixels.dtype != np.uint8:
            top = float(2 ** int(ds.get("BitsStored", 16)) - 1)
            if photometric == "PALETTE COLOR":
                top = 65535.0 if pixels.max() > 255 else 255.0
            pixels = np.clip(pixels.astype(np.float32) * (255.0 / top), 0, 255).astype(np.uint8)
        return pixels
    if window is None:
        window = _object_window(ds)
    if window is None and "VOILUTSequence" in ds:
        return _grey(ds, _stretched(apply_voi_lut(pixels, ds).astype(np.float64)), photometric)
    if pixels.dtype.kind in "iu" and pixels.size > 4096:
        # A look-up table over the stored values present: the arithmetic runs on at most
        # 65,536 entries instead of every pixel.
        low, high = int(pixels.min()), int(pixels.max())
        if high - low < 1 << 16:
            stored = np.arange(low, high + 1, dtype=np.int64)
            table = _grey(ds, _voi(apply_modality_lut(stored, ds), window), photometric)
            return table[pixels.astype(np.int64) - low] if low else table[pixels]
    return _grey(ds, _voi(apply_modality_lut(pixels, ds), window), photometric)


def _voi(values: np.ndarray, window: Window | None) -> np.ndarray:
    values = values.astype(np.float64)
    return _windowed(values, window) if window is not None else _stretched(values)


def _grey(ds: Dataset, out: np.ndarray, photometric: str) -> np.ndarray:
    if photometric == "MONOCHROME1":
        out = 255.0 - out
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _object_window(ds: Dataset) -> Window | None:
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None or center == "" or width == "":
        return None
    first_center = center[0] if isinstance(center, MultiValue) else center
    first_width = width[0] if isinstance(width, MultiValue) else width
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        function = "LINEAR"
    try:
        w = float(first_width)
        if w <= 0 or (function == "LINEAR" and w < 1):
            return None
        return Window(float(first_center), w, function)
    except (TypeError, ValueError):
        return None


def _windowed(values: np.ndarray, window: Window) -> np.ndarray:
    c, w = window.center, window.width
    if window.function == "LINEAR_EXACT":
        return np.clip((values - c) / w + 0.5, 0, 1) * 255.0
    if window.function == "SIGMOID":
        return 255.0 / (1.0 + np.exp(-4.0 * (values - c) / w))
    # PS3.3 C.11.2.1.2.1
    if w <= 1:
        return np.where(values <= c - 0.5, 0.0, 255.0)
    return np.clip(((values - (c - 0.5)) / (w - 1) + 0.5), 0, 1) * 255.0


def _stretched(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros_like(values)
    return (values - low) * (255.0 / (high - low))
