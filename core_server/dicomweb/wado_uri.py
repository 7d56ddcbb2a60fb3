"""WADO-URI (PS3.18 9): ``/wado?requestType=WADO&studyUID=...&seriesUID=...&objectUID=...``
with ``contentType`` ``application/dicom`` (the object, in ``transferSyntax`` or explicit VR
little endian) or ``image/jpeg`` / ``image/png`` (rendered, with ``windowCenter``/``Width``,
``rows``/``columns``, ``frameNumber``, ``imageQuality``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response

from core_server import auth
from core_server.dicomweb import rendering
from core_server.dicomweb.access import archive_of, audit, may_read_images
from core_server.dicomweb.instances import NotAvailable, header, reencoded
from core_server.dicomweb.negotiation import split_outside_quotes

router = APIRouter()
Reader = Annotated[auth.User, Depends(may_read_images)]
_DICOM = "application/dicom"
_UNSUPPORTED = ("region", "presentationUID", "presentationSeriesUID")


@router.get("/wado", summary="WADO-URI: one object, as DICOM or rendered")
def wado(request: Request, user: Reader) -> Response:
    params = request.query_params
    if params.get("requestType") != "WADO":
        raise HTTPException(400, "requestType must be WADO")
    keys = {
        "StudyInstanceUID": params.get("studyUID", ""),
        "SeriesInstanceUID": params.get("seriesUID", ""),
        "SOPInstanceUID": params.get("objectUID", ""),
    }
    missing = [
        name
        for name, key in zip(("studyUID", "seriesUID", "objectUID"), keys, strict=True)
        if not keys[key]
    ]
    if missing:
        raise HTTPException(400, f"missing {', '.join(missing)}")
    if params.get("anonymize", "").lower() == "yes":
        raise HTTPException(400, "anonymize=yes is not supported")
    for name in _UNSUPPORTED:
        if params.get(name):
            raise HTTPException(400, f"{name} is not supported")
    files = archive_of(request).locate(keys, retrieve=True)
    if not files:
        raise HTTPException(404, "no such object")
    f = files[0]
    media = _content_type(params.get("contentType"), f.path)
    if media == _DICOM:
        syntax = params.get("transferSyntax") or "1.2.840.10008.1.2.1"
        audit(request, user, "dicomweb.study_retrieved", {keys["StudyInstanceUID"]}, instances=1)
        if syntax == f.transfer_syntax_uid:
            return FileResponse(f.path, media_type=_DICOM)
        try:
            return Response(reencoded(f.path, syntax), media_type=_DICOM)
        except NotAvailable as exc:
            raise HTTPException(406, str(exc)) from None
    try:
        how = rendering.Rendering(
            media,
            _window(params.get("windowCenter"), params.get("windowWidth")),
            _viewport(params.get("rows"), params.get("columns")),
            _integer(params.get("imageQuality"), "imageQuality", 1, 100) or 90,
        )
        frame = _integer(params.get("frameNumber"), "frameNumber", 1, 1 << 31) or 1
        return Response(rendering.render(f.path, frame, how), media_type=media)
    except rendering.RenderError as exc:
        raise HTTPException(400, str(exc)) from None
    except NotAvailable as exc:
        raise HTTPException(404, str(exc)) from None


def _content_type(value: str | None, path: Path) -> str:
    """The first supported type of the ``contentType`` list; by default JPEG for an image and
    the object itself for anything else (a report, a document)."""
    if not value:
        return "image/jpeg" if "Rows" in header(path) else _DICOM
    for item in split_outside_quotes(value, ","):
        kind = item.split(";")[0].strip().lower()
        if kind in (_DICOM, *rendering.MEDIA_TYPES):
            return kind
        if kind in ("*/*", "image/*"):
            return "image/jpeg"
    raise HTTPException(406, f"contentType {value!r} is not supported")


def _integer(value: str | None, name: str, low: int, high: int) -> int | None:
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise rendering.RenderError(f"{name} must be a whole number") from None
    if not low <= number <= high:
        raise rendering.RenderError(f"{name} must be between {low} and {high}")
    return number


def _window(center: str | None, width: str | None) -> rendering.Window | None:
    if not center and not width:
        return None
    if not (center and width):
        raise rendering.RenderError("windowCenter and windowWidth go together")
    return rendering.parse_window(f"{center},{width}")


def _viewport(rows: str | None, columns: str | None) -> tuple[int, int] | None:
    height = _integer(rows, "rows", 1, 8192)
    width = _integer(columns, "columns", 1, 8192)
    if height is None and width is None:
        return None
    return (width or 8192, height or 8192)
