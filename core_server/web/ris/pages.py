"""The RIS pages: registration desk, technician's worklist, reconciliation of unmatched
images, the exam label. Server-rendered shells; their scripts (ES modules in ``static/``)
work on the ``/api/ris`` JSON API. Names are shown as a person reads them (王建国, never
``王^建国``) and times in the hospital's zone."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth, clock
from core_server.ris import Exam, Patient
from core_server.web.discs import routes as discs_routes
from core_server.web.film import routes_compose as compose
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
    prefixes = (
        *_TEXTS,
        "reporting.quality.",
        "reporting_ui.quality.image",
        "discs.queue.title",
        "film.compose.link",
    )
    # What this user may open from an exam: the page need not guess from the header's links.
    actions = {
        "burn_disc": user.role in discs_routes.STAFF,
        "compose_film": user.role in compose.COMPOSERS,
    }
    return render(
        request, "ris/technician.html", {"page_data": {"actions": actions}}, i18n_prefixes=prefixes
    )


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
    """A printable exam label: name, pinyin, sex, birth date, exam item, room, time, the
    barcode (an unknown exam is the refusal's error page)."""
    ris = request.app.state.ctx.ris
    exam = ris.exam(exam_id)
    patient = ris.patient(exam.patient_id, exam.issuer)
    return render(request, "ris/label.html", {"label": label(exam, patient)}, i18n_prefixes=_TEXTS)


def label(exam: Exam, patient: Patient) -> dict[str, Any]:
    """What the label shows, as a person reads it."""
    name = patient.person_name
    return {
        "exam_id": exam.id,
        "accession_number": exam.accession_number,
        "name": name.display(),
        "pinyin": name.latin() if name.is_chinese else "",
        "sex": (patient.sex or "o").lower(),
        "birth_date": patient.birth_date.isoformat() if patient.birth_date else "",
        "patient_id": patient.patient_id,
        "procedure": exam.procedure_name,
        "emergency": exam.emergency,
        "room": exam.room_name or exam.room,
        "scheduled": clock.shown(exam.scheduled_at),
    }


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(
        app,
        PageLink("ris.nav.register", "/ris/register", REGISTRARS, order=20, landing=("registrar",)),
    )
    add_page_link(
        app,
        PageLink(
            "ris.nav.technician", "/ris/technician", TECHNICIANS, order=30, landing=("technician",)
        ),
    )
    add_page_link(
        app, PageLink("ris.nav.reconciliation", "/ris/reconciliation", RECONCILERS, order=40)
    )
