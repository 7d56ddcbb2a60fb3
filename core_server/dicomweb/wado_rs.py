"""WADO-RS (PS3.18 10.4): instances, metadata, frames, bulk data, rendered images and
thumbnails of stored studies, series and instances."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian

from core_server import auth
from core_server.archive import InstanceFile, Level
from core_server.dicomweb import rendering, video
from core_server.dicomweb.access import archive_of, audit, may_read_images
from core_server.dicomweb.dicom_json import PIXEL_DATA, absolute_bulk_uris
from core_server.dicomweb.instances import (
    NotAvailable,
    bulk_value,
    decoded_frames,
    frame_count,
    header,
    reencoded,
    stored_frames,
)
from core_server.dicomweb.metadata import instances_json
from core_server.dicomweb.multipart import Part, body, content_type, new_boundary
from core_server.dicomweb.negotiation import (
    MediaRange,
    NotAcceptable,
    frame_choice,
    instance_syntax,
    parse_accept,
)
from core_server.dicomweb.replies import accepted_media, datasets, service_root, warning_header
from core_server.storage.compression import codecs

log = logging.getLogger(__name__)
router = APIRouter()
Reader = Annotated[auth.User, Depends(may_read_images)]
_INSTANCE = "/studies/{study}/series/{series}/instances/{instance}"


def located(
    request: Request, study: str, series: str | None = None, instance: str | None = None
) -> list[InstanceFile]:
    keys = {"StudyInstanceUID": study}
    if series:
        keys["SeriesInstanceUID"] = series
    if instance:
        keys["SOPInstanceUID"] = instance
    files = archive_of(request).locate(keys, retrieve=True)
    if not files:
        raise HTTPException(404, "no such study, series or instance")
    return files


def _accept(request: Request) -> list[MediaRange]:
    return parse_accept(request.headers.get("accept"))


# --- instances ---------------------------------------------------------------------------


def retrieve(request: Request, user: auth.User, files: list[InstanceFile], study: str) -> Response:
    ranges = _accept(request)
    parts: list[Part | Callable[[], Part]] = []
    try:
        for f in files:
            syntax = instance_syntax(ranges, f.transfer_syntax_uid)
            kind = f"application/dicom; transfer-syntax={syntax}"
            if syntax == f.transfer_syntax_uid:
                parts.append(Part(kind, path=f.path))
            else:
                parts.append(partial(_converted_part, f, syntax, kind))
    except NotAcceptable as exc:
        raise HTTPException(406, str(exc)) from None
    audit(request, user, "dicomweb.study_retrieved", {study}, instances=len(files))
    boundary = new_boundary()
    return StreamingResponse(
        body(parts, boundary), media_type=content_type("application/dicom", boundary)
    )


def _converted_part(f: InstanceFile, syntax: str, kind: str) -> Part:
    """The instance in ``syntax``: uncompressed, or losslessly compressed. An object that
    cannot be compressed (no pixel data, a video, 32-bit samples) comes in explicit VR little
    endian instead, its part's transfer-syntax saying so (the parts of a study are already
    on their way: a 406 can no longer be answered)."""
    if syntax in codecs.LOSSLESS:
        try:
            ds = codecs.compressed(dcmread(f.path), codecs.Target(syntax), lossy_source=True)
            return Part(kind, data=codecs.encode(ds))
        except codecs.CannotCompress as exc:
            log.info("%s sent uncompressed, not as %s: %s", f.sop_instance_uid, syntax, exc)
            syntax = str(ExplicitVRLittleEndian)
            kind = f"application/dicom; transfer-syntax={syntax}"
    return Part(kind, data=reencoded(f.path, syntax))


@router.get("/studies/{study}", summary="WADO-RS: retrieve a study's instances")
def retrieve_study(request: Request, study: str, user: Reader) -> Response:
    return retrieve(request, user, located(request, study), study)


@router.get("/studies/{study}/series/{series}", summary="WADO-RS: retrieve a series")
def retrieve_series(request: Request, study: str, series: str, user: Reader) -> Response:
    return retrieve(request, user, located(request, study, series), study)


@router.get(_INSTANCE, summary="WADO-RS: retrieve an instance")
def retrieve_instance(
    request: Request, study: str, series: str, instance: str, user: Reader
) -> Response:
    return retrieve(request, user, located(request, study, series, instance), study)


# --- metadata ----------------------------------------------------------------------------


def metadata(request: Request, user: auth.User, files: list[InstanceFile], study: str) -> Response:
    """Each instance's attributes, as DICOM JSON or (``multipart/related;
    type="application/dicom+xml"``) PS3.19 XML. An object that cannot be read is left out and
    named in a ``Warning`` header (the log has the detail)."""
    media = accepted_media(request)
    found = instances_json(request.app.state.ctx.engine, files)
    audit(request, user, "dicomweb.study_viewed", {study})
    root = service_root(request)
    texts = [absolute_bulk_uris(text, root) for text in found.texts]
    warnings = [f"{len(found.skipped)} instance(s) left out: " + "; ".join(found.skipped)]
    headers = warning_header(request, warnings if found.skipped else [])
    return datasets(media, texts=texts, headers=headers)


@router.get("/studies/{study}/metadata", summary="WADO-RS: a study's metadata")
def study_metadata(request: Request, study: str, user: Reader) -> Response:
    return metadata(request, user, located(request, study), study)


@router.get("/studies/{study}/series/{series}/metadata", summary="WADO-RS: a series' metadata")
def series_metadata(request: Request, study: str, series: str, user: Reader) -> Response:
    return metadata(request, user, located(request, study, series), study)


@router.get(_INSTANCE + "/metadata", summary="WADO-RS: an instance's metadata")
def instance_metadata(
    request: Request, study: str, series: str, instance: str, user: Reader
) -> Response:
    return metadata(request, user, located(request, study, series, instance), study)


# --- frames and bulk data ----------------------------------------------------------------


def frame_numbers(text: str) -> list[int]:
    try:
        numbers = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        raise HTTPException(
            400, f"frame numbers must be a comma-separated list: {text!r}"
        ) from None
    if not numbers or any(n < 1 for n in numbers):
        raise HTTPException(400, "frame numbers start at 1")
    return numbers


def frames_response(request: Request, f: InstanceFile, numbers: list[int]) -> Response:
    if video.is_video(f.transfer_syntax_uid):
        # One fragment holds the whole stream: there is no frame to cut out of it.
        raise HTTPException(404, "a video's frames are not given one by one: see /rendered")
    try:
        choice = frame_choice(_accept(request), f.transfer_syntax_uid)
        if choice.as_stored:
            frames, syntax = stored_frames(f.path, numbers)
        elif choice.encode:
            _check_frames(f, numbers)
            frames, syntax = codecs.encoded_frames(f.path, numbers, choice.syntax), choice.syntax
        else:
            frames, syntax = decoded_frames(f.path, numbers), choice.syntax
    except NotAcceptable as exc:
        raise HTTPException(406, str(exc)) from None
    except NotAvailable as exc:
        raise HTTPException(404, str(exc)) from None
    except codecs.CannotCompress as exc:
        raise HTTPException(406, f"frames cannot be given as {choice.syntax}: {exc}") from None
    encoded = choice.encode or syntax == f.transfer_syntax_uid
    media = choice.media_type if encoded else "application/octet-stream"
    parts = [Part(f"{media}; transfer-syntax={syntax}", data=frame) for frame in frames]
    boundary = new_boundary()
    return Response(b"".join(body(parts, boundary)), media_type=content_type(media, boundary))


def _check_frames(f: InstanceFile, numbers: list[int]) -> None:
    """The frames asked for exist (:class:`NotAvailable` if not) before any is encoded."""
    ds = header(f.path)
    count = frame_count(ds)
    if "Rows" not in ds:
        raise NotAvailable("the object has no pixel data (it holds no frames)")
    for n in numbers:
        if not 1 <= n <= count:
            raise NotAvailable(f"frame {n} does not exist: the object has {count}")


@router.get(_INSTANCE + "/frames/{frames}", summary="WADO-RS: frames of an instance")
def retrieve_frames(
    request: Request, study: str, series: str, instance: str, frames: str, _user: Reader
) -> Response:
    f = located(request, study, series, instance)[0]
    return frames_response(request, f, frame_numbers(frames))


@router.get(_INSTANCE + "/bulk/{tag_path:path}", summary="WADO-RS: a bulk data value")
def retrieve_bulk(
    request: Request, study: str, series: str, instance: str, tag_path: str, _user: Reader
) -> Response:
    f = located(request, study, series, instance)[0]
    if tag_path.strip("/").upper() == f"{PIXEL_DATA:08X}":
        count = frame_count(header(f.path))
        return frames_response(request, f, list(range(1, count + 1)))
    try:
        value = bulk_value(f.path, tag_path)
    except NotAvailable as exc:
        raise HTTPException(404, str(exc)) from None
    ranges = _accept(request)
    if any(r.media_type == "application/octet-stream" for r in ranges) and not any(
        r.media_type == "multipart/related" for r in ranges
    ):
        return Response(value, media_type="application/octet-stream")
    boundary = new_boundary()
    parts = [Part("application/octet-stream", data=value)]
    return Response(
        b"".join(body(parts, boundary)),
        media_type=content_type("application/octet-stream", boundary),
    )


# --- rendered and thumbnails -------------------------------------------------------------


def rendering_of(request: Request, *, thumbnail: bool) -> rendering.Rendering:
    params = request.query_params
    media = None
    for r in _accept(request):
        if r.media_type in rendering.MEDIA_TYPES:
            media = r.media_type
            break
        if r.media_type in ("*/*", "image/*"):
            media = "image/jpeg"
            break
    if media is None:
        raise HTTPException(406, "rendered images are given as image/jpeg or image/png")
    try:
        quality = int(params.get("quality", "90"))
        if not 1 <= quality <= 100:
            raise ValueError
    except ValueError:
        raise HTTPException(400, "quality must be 1-100") from None
    try:
        viewport = rendering.parse_viewport(params.get("viewport"))
        window = rendering.parse_window(params.get("window"))
    except rendering.RenderError as exc:
        raise HTTPException(400, str(exc)) from None
    if thumbnail and viewport is None:
        viewport = rendering.THUMBNAIL_SIZE
    return rendering.Rendering(media, window, viewport, quality)


def image_response(f: InstanceFile, frame: int, how: rendering.Rendering) -> Response:
    if video.is_video(f.transfer_syntax_uid):
        raise HTTPException(404, "a video's frames are not rendered one by one: see /rendered")
    try:
        image = rendering.render(f.path, frame, how)
    except NotAvailable as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(image, media_type=how.media_type)


def representative(request: Request, study: str, series: str | None = None) -> InstanceFile:
    """The instance that stands for a study or series in a thumbnail: the middle image of its
    (first, by series number) series."""
    keys = {"StudyInstanceUID": study}
    if series:
        keys["SeriesInstanceUID"] = series
    answers = [a for a in archive_of(request).find(Level.IMAGE, keys) if a.get("Rows")]
    if not answers:
        raise HTTPException(404, "no image to show")
    first_series = min(answers, key=_series_order)["SeriesInstanceUID"]
    images = sorted(
        (a for a in answers if a["SeriesInstanceUID"] == first_series),
        key=lambda a: (a.get("InstanceNumber") is None, a.get("InstanceNumber") or 0),
    )
    chosen = images[len(images) // 2]
    return located(request, study, chosen["SeriesInstanceUID"], chosen["SOPInstanceUID"])[0]


def _series_order(answer: dict[str, Any]) -> tuple[bool, int, int]:
    number = answer.get("SeriesNumber")
    return (number is None, number or 0, answer["_series_id"])


@router.get(_INSTANCE + "/rendered", summary="WADO-RS: an instance rendered (first frame)")
def rendered_instance(
    request: Request, study: str, series: str, instance: str, _user: Reader
) -> Response:
    f = located(request, study, series, instance)[0]
    if video.is_video(f.transfer_syntax_uid):
        return video.video_response(request, f)
    return image_response(f, 1, rendering_of(request, thumbnail=False))


@router.get(_INSTANCE + "/frames/{frames}/rendered", summary="WADO-RS: a frame rendered")
def rendered_frame(
    request: Request, study: str, series: str, instance: str, frames: str, _user: Reader
) -> Response:
    f = located(request, study, series, instance)[0]
    return image_response(f, frame_numbers(frames)[0], rendering_of(request, thumbnail=False))


@router.get(_INSTANCE + "/thumbnail", summary="WADO-RS: an instance's thumbnail")
def instance_thumbnail(
    request: Request, study: str, series: str, instance: str, _user: Reader
) -> Response:
    f = located(request, study, series, instance)[0]
    return image_response(f, 1, rendering_of(request, thumbnail=True))


@router.get(_INSTANCE + "/frames/{frames}/thumbnail", summary="WADO-RS: a frame's thumbnail")
def frame_thumbnail(
    request: Request, study: str, series: str, instance: str, frames: str, _user: Reader
) -> Response:
    f = located(request, study, series, instance)[0]
    return image_response(f, frame_numbers(frames)[0], rendering_of(request, thumbnail=True))


@router.get("/studies/{study}/series/{series}/thumbnail", summary="WADO-RS: a series' thumbnail")
def series_thumbnail(request: Request, study: str, series: str, _user: Reader) -> Response:
    how = rendering_of(request, thumbnail=True)
    return image_response(representative(request, study, series), 1, how)


@router.get("/studies/{study}/thumbnail", summary="WADO-RS: a study's thumbnail")
def study_thumbnail(request: Request, study: str, _user: Reader) -> Response:
    how = rendering_of(request, thumbnail=True)
    return image_response(representative(request, study), 1, how)
