"""The one renderer of archived film sheets: a sheet's Secondary Capture read back from the
archive as a picture and made a progressive JPEG of a few fixed widths (``WIDTHS``), kept in a
cache folder (a sheet's SOP instance never changes, so a file never goes stale). The cloud-film
phone page, the QC page and the films-without-exam page all show sheets through
:func:`jpeg`.
"""

from __future__ import annotations

import os
import tempfile
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array

from core_server.archive import Archive
from core_server.film.register import SheetRow
from core_server.refusals import NotFound

# A phone's screen width in device pixels: 720 for a plain screen, 1440 for a 3x one (390
# CSS px x 3 = 1170, the next step up); 720 is also the staff pages' thumbnail. Anything
# asked for is snapped to one of these, so the cache holds at most two files per sheet.
WIDTHS = (720, 1440)
QUALITY = 80  # film sheets are mostly flat black borders: 80 is sharp and small


def snapped(width: int | None) -> int:
    """The smallest of ``WIDTHS`` at least ``width`` (the largest for anything bigger)."""
    for step in WIDTHS:
        if width is not None and width <= step:
            return step
    return WIDTHS[0] if width is None else WIDTHS[-1]


def jpeg(archive: Archive, row: SheetRow, width: int, cache_dir: Path) -> bytes:
    """The sheet ``width`` pixels wide (snapped, never enlarged) as a progressive JPEG, from
    the cache when it was made before."""
    width = snapped(width)
    cached = cache_dir / f"{row.sop_instance_uid}.{width}.jpg"
    if cached.is_file():
        return cached.read_bytes()
    picture = sheet_picture(archive, row)
    # A tall box keeps the aspect and lets the width decide; thumbnail never enlarges.
    picture.thumbnail((width, width * 4), Image.Resampling.LANCZOS)
    out = BytesIO()
    picture.save(out, format="JPEG", quality=QUALITY, progressive=True, optimize=True)
    data = out.getvalue()
    _keep(cached, data)
    return data


def sheet_picture(archive: Archive, row: SheetRow) -> Image.Image:
    """The archived sheet as shown (NotFound ``film.sheet_not_found`` when it is gone)."""
    files = archive.locate(
        {
            "StudyInstanceUID": row.study_instance_uid,
            "SeriesInstanceUID": row.series_instance_uid,
            "SOPInstanceUID": row.sop_instance_uid,
        }
    )
    if not files:
        raise NotFound("film.sheet_not_found", sheet_id=row.id)
    return _picture(files[0].path)


def _picture(path: Path) -> Image.Image:
    """Our sheets are 8-bit as printed (MONOCHROME2 or RGB) and shown as stored; anything else
    (a sheet another system archived) goes through its LUTs, scaled to 8 bits. (Film is the
    reporting layer's sibling, so it cannot share reporting's renderer.)"""
    ds = dcmread(path)
    pixels = pixel_array(ds, index=0 if int(ds.get("NumberOfFrames", 1) or 1) > 1 else None)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if not photometric.startswith("MONOCHROME"):
        if pixels.dtype != np.uint8:
            top = (1 << int(ds.get("BitsStored", 8) or 8)) - 1
            pixels = pixels.astype(np.float64) / top * 255.0
        return Image.fromarray(pixels.astype(np.uint8), "RGB")
    values = apply_modality_lut(pixels, ds).astype(np.float64)
    if "WindowCenter" in ds and "WindowWidth" in ds:
        values = apply_voi_lut(values, ds, index=0).astype(np.float64)
    if pixels.dtype == np.uint8 and "WindowCenter" not in ds:
        scaled = values  # an 8-bit sheet is already as printed: no stretching
    else:
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low or 1.0) * 255.0
    if photometric == "MONOCHROME1":
        scaled = 255.0 - scaled
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")


def _keep(path: Path, data: bytes) -> None:
    """Write under a temporary name and rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
