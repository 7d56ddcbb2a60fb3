"""The cloud-film page ``/c/<token>`` (no sign-in, a phone's browser): the check question
first, then the patient's exams: film sheets first (``/c/<token>/sheets/<id>.jpg?w=720|1440``,
progressive JPEGs the browser picks through ``srcset``; a tap opens the large one alone, where
pinch zoom works), the report text and PDF, and one JPEG per series for exams without sheets.
Plain HTML forms and images, no script: it reads on any phone. An expired or revoked link
shows a clear page and nothing else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response

from core_server import clock
from core_server.discs import cloud, cloud_check, cloud_film
from core_server.film.cloud import WIDTHS
from core_server.web.security import client_address
from core_server.web.templating import render

COOKIE = "cloud_film"
router = APIRouter(include_in_schema=False)


def _closed(request: Request, refusal: cloud.LinkClosed) -> Response:
    return render(
        request,
        "discs/cloud_closed.html",
        {"reason": refusal.code},
        status_code=refusal.status,
        headers={"X-Robots-Tag": "noindex"},
    )


def _ask(
    request: Request, token: str, error: str = "", status: int = 200, **values: int
) -> Response:
    return render(
        request,
        "discs/cloud_check.html",
        {"token": token, "error": error, "values": values},
        status_code=status,
        headers={"X-Robots-Tag": "noindex"},
    )


def _images_without_report(request: Request) -> bool:
    return bool(request.app.state.ctx.settings.disc_images_without_report)


@router.get("/c/{token}")
def cloud_film_page(request: Request, token: str) -> Response:
    engine = request.app.state.ctx.engine
    try:
        link = cloud.open_link(engine, token)
    except cloud.LinkClosed as closed:
        return _closed(request, closed)
    if not cloud_check.has_pass(engine, link, request.cookies.get(COOKIE)):
        return _ask(request, token)
    film = cloud_film.film(engine, link, images_without_report=_images_without_report(request))
    return render(
        request,
        "discs/cloud_film.html",
        {"token": token, "film": film, "widths": WIDTHS},
        headers={"X-Robots-Tag": "noindex"},
    )


@router.post("/c/{token}")
def cloud_film_check(
    request: Request, token: str, answer: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    engine = request.app.state.ctx.engine
    try:
        link = cloud.open_link(engine, token)
    except cloud.LinkClosed as closed:
        return _closed(request, closed)
    try:
        given = cloud_check.answer(engine, link, answer, client_address(request))
    except cloud_check.CheckThrottled as slowed:
        response = _ask(
            request, token, "discs.cloud.slow_down", 429, retry_after=slowed.retry_after
        )
        response.headers["Retry-After"] = str(slowed.retry_after)
        return response
    if not given.ok:
        return _ask(
            request, token, "discs.cloud_ui.wrong"
        )  # the form again (a page, not a refusal)
    response = RedirectResponse(f"/c/{token}", status_code=303)
    assert given.pass_expires is not None
    response.set_cookie(
        COOKIE,
        given.pass_key,
        max_age=max(1, int((given.pass_expires - clock.now()).total_seconds())),
        expires=given.pass_expires,
        path=f"/c/{token}",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _passed(request: Request, token: str) -> cloud.Link | None:
    engine = request.app.state.ctx.engine
    try:
        link = cloud.open_link(engine, token)
    except cloud.LinkClosed:
        return None
    return link if cloud_check.has_pass(engine, link, request.cookies.get(COOKIE)) else None


@router.get("/c/{token}/series/{series_uid}.jpg")
def series_preview(request: Request, token: str, series_uid: str) -> Response:
    link = _passed(request, token)
    if link is None:
        return Response(status_code=404)
    ctx = request.app.state.ctx
    jpeg = cloud_film.preview(
        ctx.engine,
        ctx.archive,
        link,
        series_uid,
        images_without_report=_images_without_report(request),
    )
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/c/{token}/sheets/{sheet_id}.jpg")
def film_sheet(request: Request, token: str, sheet_id: int, w: int = WIDTHS[0]) -> Response:
    link = _passed(request, token)
    if link is None:
        return Response(status_code=404)
    ctx = request.app.state.ctx
    jpeg = cloud_film.sheet(
        ctx.engine,
        ctx.archive,
        link,
        sheet_id,
        w,
        cache_dir=ctx.settings.data_dir / "cache" / "film-sheets",
        address=client_address(request),
        images_without_report=_images_without_report(request),
    )
    # Not kept by the browser: a withdrawn link must show nothing, also on a second visit.
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get("/c/{token}/reports/{exam_id}.pdf")
def report_pdf(request: Request, token: str, exam_id: int) -> Response:
    link = _passed(request, token)
    output = getattr(request.app.state, "report_output", None)
    if link is None or output is None:
        return Response(status_code=404)
    engine = request.app.state.ctx.engine
    report = cloud_film.report_id(
        engine, link, exam_id, images_without_report=_images_without_report(request)
    )
    pdf = output.electronic_copy(report, base_url=str(request.base_url))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'inline; filename="report-{exam_id}.pdf"',
        },
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
