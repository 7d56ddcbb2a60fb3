"""The web film composer (docs/film-printing.md, "Film composer"): a technician or doctor lays a
study's images out on a film, windows each as shown, looks at the server's preview and sends N
copies to a laser imager.

- ``GET /film/compose?study=<uid>[&exam=<id>]``: the page.
- ``GET /api/film/compose/studies/{uid}``: the study's images (series, number, frames, the
  object's own window) and the window presets of its modality.
- ``GET /api/film/compose/images/{sop}?center=&width=&frame=&size=``: one image windowed as the
  film will have it (``windowing.windowed``, the same function the print job uses), as PNG.
- ``POST /api/film/compose/preview``: the composed sheet (``sheet.compose``) as PNG.
- ``POST /api/film/compose/print``: the sheet archived (``sheets.store_sheet``, source
  ``viewer``, so it counts in the statistics and shows as cloud film) and a print job of the
  composition that marks that sheet printed when the imager has printed it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from PIL import Image
from pydantic import BaseModel, Field
from pydicom import dcmread
from pydicom.pixels import apply_modality_lut, pixel_array

from core_server import auth, names
from core_server.archive import Level
from core_server.film import sheets, windowing
from core_server.film.print_jobs import MAX_COPIES, PrintJobs
from core_server.film.printers import Printer, Printers
from core_server.film.sheet import FILM_SIZES_MM, FilmSheet, ImageBox, compose, layout
from core_server.refusals import Conflict, Invalid, NotFound
from core_server.web.film.routes_jobs import Composition
from core_server.web.security import audit, require, require_page
from core_server.web.templating import render

COMPOSERS = ("admin", "technician", "reporting_doctor", "reviewing_doctor", "department_head")
router = APIRouter(prefix="/api/film/compose", tags=["film"])
pages = APIRouter(include_in_schema=False)
Composer = Annotated[auth.User, Depends(require(*COMPOSERS))]
# STANDARD\C,R: C columns, R rows (the common laser imager formats).
LAYOUTS = ("1,1", "1,2", "2,1", "2,2", "2,3", "3,3", "3,4", "4,4", "4,5", "4,6", "5,6")
# Window presets (center, width) per modality; other modalities use the object's own.
PRESETS: dict[str, list[tuple[str, float, float]]] = {
    "CT": [
        ("lung", -600, 1500),
        ("mediastinum", 40, 400),
        ("bone", 400, 1800),
        ("brain", 40, 80),
        ("abdomen", 50, 350),
        ("liver", 60, 160),
    ],
}
MOST_IMAGES = 1000  # a study's images listed at most


class PreviewBody(BaseModel):
    composition: Composition
    printer_id: int | None = None  # its colour and default film size, if given
    dpi: int = Field(40, ge=10, le=150)


class PrintBody(BaseModel):
    printer_id: int
    copies: int = Field(1, ge=1, le=MAX_COPIES)
    composition: Composition
    exam_id: int | None = Field(None, ge=1)


def _first(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(
            value[0] if hasattr(value, "__len__") and not isinstance(value, str) else value
        )
    except (TypeError, ValueError, IndexError):
        return None


def _own_window(path: Path) -> tuple[float | None, float | None]:
    """The object's first window, else its min-max (what ``windowed`` does without one), so
    the composer always has a window to start dragging from; None for colour images."""
    ds = dcmread(path, stop_before_pixels=True, specific_tags=["WindowCenter", "WindowWidth"])
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is not None and width:
        return center, width
    ds = dcmread(path)
    if not str(ds.get("PhotometricInterpretation", "")).startswith("MONOCHROME"):
        return None, None
    values = apply_modality_lut(pixel_array(ds, index=0 if ds.get("NumberOfFrames") else None), ds)
    low, high = float(values.min()), float(values.max())
    return round((low + high) / 2, 2), max(1.0, round(high - low, 2))


def _image_entry(archive: Any, answer: dict[str, Any]) -> dict[str, Any]:
    center, width = _own_window(archive.online_file(answer["SOPInstanceUID"], answer["_path"]))
    return {
        "sop_instance_uid": answer["SOPInstanceUID"],
        "series_instance_uid": answer.get("SeriesInstanceUID") or "",
        "series_number": answer.get("SeriesNumber"),
        "series_description": answer.get("SeriesDescription") or "",
        "instance_number": answer.get("InstanceNumber"),
        "modality": answer.get("Modality") or "",
        "frames": int(answer.get("NumberOfFrames") or 1),
        "rows": answer.get("Rows"),
        "columns": answer.get("Columns"),
        "window_center": center,
        "window_width": width,
    }


@router.get("/studies/{study_uid}")
def study_images(request: Request, study_uid: str, user: Composer) -> dict[str, Any]:
    archive = request.app.state.ctx.archive
    found = list(archive.find(Level.IMAGE, {"StudyInstanceUID": study_uid}, limit=MOST_IMAGES))
    if not found:
        raise NotFound("film.compose.study_unknown", study=study_uid)
    images = [_image_entry(archive, a) for a in found if a.get("Rows")]
    images.sort(key=lambda i: (i["series_number"] or 0, i["instance_number"] or 0))
    modalities = sorted({i["modality"] for i in images if i["modality"]})
    presets = [
        {"name": name, "center": c, "width": w}
        for modality in modalities
        for name, c, w in PRESETS.get(modality, [])
    ]
    first = found[0]
    return {
        "study_instance_uid": study_uid,
        "patient_name": names.display(str(first.get("PatientName") or "")),
        "patient_id": first.get("PatientID") or "",
        "accession_number": first.get("AccessionNumber") or "",
        "study_date": first.get("StudyDate") or "",
        "modalities": modalities,
        "images": images,
        "presets": presets,
    }


def _locate(request: Request, uid: str) -> Path:
    found = request.app.state.ctx.archive.locate({"SOPInstanceUID": uid})
    if not found:
        raise NotFound("film.compose.image_unknown", sop_instance_uid=uid)
    return Path(found[0].path)


def _png(picture: Image.Image) -> Response:
    out = io.BytesIO()
    picture.save(out, "PNG")
    return Response(out.getvalue(), media_type="image/png", headers={"Cache-Control": "private"})


@router.get("/images/{sop_instance_uid}")
def image(
    request: Request,
    sop_instance_uid: str,
    user: Composer,
    center: Annotated[float | None, Query()] = None,
    width: Annotated[float | None, Query(gt=0)] = None,
    frame: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=32, le=1024)] = 256,
) -> Response:
    pixels = windowing.windowed(
        _locate(request, sop_instance_uid), frame=frame, center=center, width=width
    )
    picture = Image.fromarray(pixels)
    picture.thumbnail((size, size), Image.Resampling.BILINEAR)
    return _png(picture)


def film_sheet(request: Request, composition: Composition, printer: Printer | None) -> FilmSheet:
    """The composition as a film sheet of windowed images; refused when a box is beyond the
    layout or given twice, an image unknown, or the film size one the printer has not."""
    color = bool(printer and printer.color)
    film_size = composition.film_size or (printer.default_film_size if printer else "")
    film_size = film_size or "14INX17IN"
    if film_size not in FILM_SIZES_MM:
        raise Invalid("film.film_size", value=film_size)
    if printer is not None and printer.film_sizes and film_size not in printer.film_sizes:
        raise Invalid("film.compose.size_not_loaded", value=film_size, printer=printer.name)
    boxes = len(layout(composition.display_format, 1000, 1000))
    seen: set[int] = set()
    images: list[ImageBox] = []
    for item in composition.images:
        if item.position > boxes:
            raise Invalid("film.job.box", position=item.position, boxes=boxes)
        if item.position in seen:
            raise Invalid("film.compose.box_twice", position=item.position)
        seen.add(item.position)
        pixels = windowing.windowed(
            _locate(request, item.sop_instance_uid),
            frame=item.frame,
            center=item.window_center,
            width=item.window_width,
            color=color,
        )
        images.append(ImageBox(item.position, pixels, "RGB" if pixels.ndim == 3 else "MONOCHROME2"))
    return FilmSheet(
        display_format=composition.display_format,
        film_size=film_size,
        orientation="LANDSCAPE" if composition.orientation == "LANDSCAPE" else "PORTRAIT",
        color=color,
        images=images,
    )


def _printer(request: Request, printer_id: int) -> Printer:
    printers: Printers = request.app.state.film_printers
    return printers.get(printer_id)


@router.post("/preview")
def preview(request: Request, body: PreviewBody, user: Composer) -> Response:
    printer = _printer(request, body.printer_id) if body.printer_id is not None else None
    return _png(compose(film_sheet(request, body.composition, printer), body.dpi))


@router.post("/print", status_code=201)
def print_composition(request: Request, body: PrintBody, user: Composer) -> dict[str, Any]:
    ctx = request.app.state.ctx
    jobs: PrintJobs = request.app.state.film_jobs
    printer = _printer(request, body.printer_id)
    if not printer.active:
        raise Conflict("film.printer.inactive_refused", name=printer.name)
    sheet = film_sheet(request, body.composition, printer)
    study = _study_of(request, body.composition.images[0].sop_instance_uid)
    stored = sheets.store_sheet(
        ctx.archive,
        ctx.ris,
        sheet,
        dpi=ctx.settings.film_dpi,
        source="viewer",
        exam_id=body.exam_id,
        hints=sheets.Hints(study_instance_uid=study),
        copies=body.copies,
        requested_by=user.username,
    )
    composition = body.composition.model_dump()
    composition["film_size"] = sheet.film_size
    # The sheet id rides along: the job marks the archived sheet printed once it is.
    job = jobs.submit(
        printer.id,
        body.copies,
        user.username,
        sheet_ids=[stored.id],
        composition=composition,
        study_instance_uid=study,
    )
    detail = {"job_id": job.id, "sheet_id": stored.id, "printer": printer.name}
    audit(request, user, "film.compose.print", f"study:{study}", detail)
    return {
        "job": job.as_dict(),
        "sheet": {
            "id": stored.id,
            "exam_id": stored.exam_id,
            "matched_by": stored.matched_by,
            "sop_instance_uid": stored.sop_instance_uid,
            "study_instance_uid": stored.study_instance_uid,
        },
    }


def _study_of(request: Request, sop_instance_uid: str) -> str:
    archive = request.app.state.ctx.archive
    for found in archive.find(Level.IMAGE, {"SOPInstanceUID": sop_instance_uid}, limit=1):
        return str(found.get("StudyInstanceUID") or "")
    raise NotFound("film.compose.image_unknown", sop_instance_uid=sop_instance_uid)


@pages.get("/film/compose")
def compose_page(
    request: Request,
    user: Annotated[auth.User, Depends(require_page(*COMPOSERS))],
    study: str = "",
    exam: int | None = None,
) -> Response:
    data = {
        "study": study,
        "exam": exam,
        "film_sizes": list(FILM_SIZES_MM),
        "layouts": list(LAYOUTS),
        "sizes_mm": FILM_SIZES_MM,
    }
    return render(request, "film/compose.html", {"page_data": data}, i18n_prefixes=("film.",))


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(pages)
