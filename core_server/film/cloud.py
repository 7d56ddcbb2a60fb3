"""Film sheets for the phone: which sheets an exam has, and each sheet as a progressive JPEG
sized for a phone's screen (``WIDTHS``), made once from the archived Secondary Capture and
kept in a cache folder (a sheet's SOP instance never changes, so the file never goes stale).

Who may see a sheet is the caller's business (the cloud-film page checks its link, the QC page
its user); this module only reads ``film_sheets`` and the archive, renders and logs a view.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array
from sqlalchemy import Connection, Engine, or_, select

from core_server import db
from core_server.archive import Archive
from core_server.auth import record_audit
from core_server.film.sheet import FILM_SIZES_MM
from core_server.film.tables import film_sheets
from core_server.refusals import NotFound

# A phone's screen width in device pixels: 720 for a plain screen, 1440 for a 3x one (390
# CSS px x 3 = 1170, the next step up). Anything asked for is snapped to one of these, so the
# cache holds at most two files per sheet.
WIDTHS = (720, 1440)
QUALITY = 80  # film sheets are mostly flat black borders: 80 is sharp and small


@dataclass(frozen=True)
class SheetRef:
    """A sheet as a page lists it: its id, layout and the aspect of its film."""

    id: int
    exam_id: int | None
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    film_size: str
    display_format: str
    orientation: str
    modality: str
    printed: bool

    def aspect(self) -> tuple[int, int]:
        """(width, height) in tenths of millimetres, for the img's width/height attributes."""
        w, h = FILM_SIZES_MM.get(self.film_size, (355.6, 431.8))
        if self.orientation == "LANDSCAPE":
            w, h = h, w
        return round(w * 10), round(h * 10)

    def as_dict(self) -> dict[str, Any]:
        w, h = self.aspect()
        return {
            "id": self.id,
            "exam_id": self.exam_id,
            "film_size": self.film_size,
            "display_format": self.display_format,
            "orientation": self.orientation,
            "modality": self.modality,
            "printed": self.printed,
            "aspect_width": w,
            "aspect_height": h,
        }


def _ref(row: Any) -> SheetRef:
    return SheetRef(
        int(row.id),
        None if row.exam_id is None else int(row.exam_id),
        row.study_instance_uid,
        row.series_instance_uid,
        row.sop_instance_uid,
        row.film_size,
        row.display_format,
        row.orientation,
        row.modality,
        row.printed_at is not None,
    )


def sheets_of_exam(conn: Connection, exam_id: int, study_uids: list[str]) -> list[SheetRef]:
    """The exam's sheets in the order they were made: those registered to it, and those of
    its studies not yet matched to any exam."""
    s = film_sheets.c
    rows = conn.execute(
        select(film_sheets)
        .where(
            or_(
                s.exam_id == exam_id,
                s.exam_id.is_(None) & s.study_instance_uid.in_(study_uids or [""]),
            )
        )
        .order_by(s.created_at, s.id)
    )
    return [_ref(r) for r in rows]


def sheet(conn: Connection, sheet_id: int) -> SheetRef:
    row = conn.execute(select(film_sheets).where(film_sheets.c.id == sheet_id)).first()
    if row is None:
        raise NotFound("film.sheet_not_found", sheet_id=sheet_id)
    return _ref(row)


def snapped(width: int | None) -> int:
    """The smallest of ``WIDTHS`` at least ``width`` (the largest for anything bigger)."""
    for step in WIDTHS:
        if width is not None and width <= step:
            return step
    return WIDTHS[0] if width is None else WIDTHS[-1]


def jpeg(archive: Archive, ref: SheetRef, width: int, cache_dir: Path) -> bytes:
    """The sheet ``width`` pixels wide (never enlarged) as a progressive JPEG, from the cache
    when it was made before."""
    width = snapped(width)
    cached = cache_dir / f"{ref.sop_instance_uid}.{width}.jpg"
    if cached.is_file():
        return cached.read_bytes()
    files = archive.locate(
        {
            "StudyInstanceUID": ref.study_instance_uid,
            "SeriesInstanceUID": ref.series_instance_uid,
            "SOPInstanceUID": ref.sop_instance_uid,
        }
    )
    if not files:
        raise NotFound("film.sheet_not_found", sheet_id=ref.id)
    picture = _picture(files[0].path)
    # A tall box keeps the aspect and lets the width decide; thumbnail never enlarges.
    picture.thumbnail((width, width * 4), Image.Resampling.LANCZOS)
    out = BytesIO()
    picture.save(out, format="JPEG", quality=QUALITY, progressive=True, optimize=True)
    data = out.getvalue()
    _keep(cached, data)
    return data


def _picture(path: Path) -> Image.Image:
    """The archived sheet as shown: grayscale through its LUTs scaled to 8 bits, colour as RGB.
    (Film is the reporting layer's sibling, so it cannot share reporting's renderer.)"""
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


def log_view(
    engine: Engine,
    ref: SheetRef,
    *,
    width: int,
    username: str | None,
    address: str,
    via: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """One audit row per sheet shown (``film.sheet.view``): who, from where, through what."""
    with db.write(engine) as conn:
        record_audit(
            conn,
            username=username,
            action="film.sheet.view",
            target=f"film_sheet:{ref.id}",
            detail={"via": via, "width": snapped(width), "exam_id": ref.exam_id, **(detail or {})},
            address=address,
        )
