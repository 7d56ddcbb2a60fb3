"""The RIS pages: registration desk, technician's worklist, reconciliation of unmatched
images. Server-rendered shells; their scripts work on the ``/api/ris`` JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth
from core_server.ris import NotFound
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)

REGISTRARS = ("admin", "registrar")
TECHNICIANS = ("admin", "technician", "registrar")
RECONCILERS = ("admin", "technician")
MODALITIES = ("CT", "MR", "DX", "MG", "US", "ES")
_TEXTS = ("ris.",)


@router.get("/ris/register")
def register_page(
    request: Request, user: Annotated[auth.User, Depends(require_page(*REGISTRARS))]
) -> Response:
    return render(request, "ris/register.html", {"modalities": MODALITIES}, i18n_prefixes=_TEXTS)


@router.get("/ris/technician")
def technician_page(
    request: Request, user: Annotated[auth.User, Depends(require_page(*TECHNICIANS))]
) -> Response:
    # The technician grades image quality here too (the reporting API's grades and texts).
    prefixes = (*_TEXTS, "reporting.quality.", "reporting_ui.quality.image")
    return render(request, "ris/technician.html", {}, i18n_prefixes=prefixes)


@router.get("/ris/reconciliation")
def reconciliation_page(
    request: Request, user: Annotated[auth.User, Depends(require_page(*RECONCILERS))]
) -> Response:
    return render(request, "ris/reconciliation.html", {}, i18n_prefixes=_TEXTS)


@router.get("/ris/exams/{exam_id}/label")
def label_page(
    request: Request,
    exam_id: int,
    user: Annotated[auth.User, Depends(require_page(*TECHNICIANS))],
) -> Response:
    """A printable exam label: name, pinyin, sex, birth date, exam item, time, the barcode."""
    ris = request.app.state.ctx.ris
    try:
        exam = ris.exam(exam_id)
        patient = ris.patient(exam.patient_id, exam.issuer)
    except NotFound:
        return render(
            request,
            "web/error.html",
            {"title": "404", "message": f"exam {exam_id}"},
            status_code=404,
        )
    return render(
        request,
        "ris/label.html",
        {"exam": exam, "patient": patient},
        i18n_prefixes=_TEXTS,
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(app, PageLink("ris.nav.register", "/ris/register", REGISTRARS, order=20))
    add_page_link(app, PageLink("ris.nav.technician", "/ris/technician", TECHNICIANS, order=30))
    add_page_link(
        app, PageLink("ris.nav.reconciliation", "/ris/reconciliation", RECONCILERS, order=40)
    )
