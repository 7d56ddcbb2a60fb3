"""The reporting pages: the doctors' workspace (worklist and report editor on one screen) and
the critical value alert list. Server-rendered shells; their scripts work on the
``/api/reporting`` JSON API (and ``/api/ris``, ``/dicom-web`` for the exam and its images)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth, i18n
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)

DOCTORS = ("reporting_doctor", "reviewing_doctor")
WORKSPACE = (*DOCTORS, "admin")
ALERT_READERS = (*WORKSPACE, "clinician")
# Every few seconds while typing; also on hiding or leaving the page (keepalive request).
AUTOSAVE_SECONDS = 3
_TEXTS = ("reporting_ui.", "reporting_print.")


def _names(request: Request) -> dict[str, str]:
    """Display names of the people a report or alert names (authors, reviewers, lock holders,
    who acknowledged), so the page says 张医生正在编辑 rather than a login name."""
    users = auth.list_users(request.app.state.ctx.engine)
    return {u.username: u.display_name for u in users if u.display_name and u.role != "device"}


def _choices(request: Request) -> tuple[list[str], list[tuple[str, str]]]:
    """Modalities and body parts of the RIS's exam catalogue, for the worklist's filters."""
    ris = request.app.state.ctx.ris
    procedures = ris.procedures() if ris is not None else []
    lang = i18n.language(request.cookies)
    parts = sorted({p.body_part for p in procedures if p.body_part})
    return sorted({p.modality for p in procedures}), [
        (part, i18n.label(lang, f"reporting_ui.body_part.{part}", part)) for part in parts
    ]


@router.get("/reporting")
def workspace_page(
    request: Request, user: Annotated[auth.User, Depends(require_page(*WORKSPACE))]
) -> Response:
    modalities, body_parts = _choices(request)
    context = {
        "modalities": modalities,
        "body_parts": body_parts,
        "page_data": {
            "username": user.username,
            "role": user.role,
            "names": _names(request),
            "autosave_seconds": AUTOSAVE_SECONDS,
        },
    }
    return render(request, "reporting/workspace.html", context, i18n_prefixes=_TEXTS)


@router.get("/critical-alerts")
def alerts_page(
    request: Request, user: Annotated[auth.User, Depends(require_page(*ALERT_READERS))]
) -> Response:
    context = {
        "page_data": {"username": user.username, "role": user.role, "names": _names(request)}
    }
    return render(request, "reporting/alerts.html", context, i18n_prefixes=_TEXTS)


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(app, PageLink("reporting_ui.nav.workspace", "/reporting", WORKSPACE, order=50))
    add_page_link(
        app, PageLink("reporting_ui.nav.alerts", "/critical-alerts", ALERT_READERS, order=55)
    )
