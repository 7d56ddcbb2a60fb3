"""The reporting pages: the doctors' workspace (worklist and report editor on one screen), the
critical value alert list, and the administrator's reporting configuration
(``/admin/reporting``: shared templates and each exam item's default, forbidden and mutually
exclusive words, sign-off levels per department, the settings). Server-rendered shells; their
scripts (ES modules) work on the ``/api/reporting`` JSON API (and ``/api/ris``,
``/dicom-web`` for the exam and its images), which checks and audits every change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth, i18n
from core_server.reporting import body_parts
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)

DOCTORS = ("reporting_doctor", "reviewing_doctor")
WORKSPACE = (*DOCTORS, "admin")
ALERT_READERS = (*WORKSPACE, "clinician")
# Every few seconds while typing; also on hiding or leaving the page (keepalive request).
AUTOSAVE_SECONDS = 3
_TEXTS = ("reporting_ui.", "reporting_print.")


def _lang(request: Request) -> str:
    return i18n.language(request.cookies, request.headers.get("accept-language", ""))


def _names(request: Request) -> dict[str, str]:
    """Display names of the people a report or alert names (authors, reviewers, lock holders,
    who acknowledged), so the page says 张医生正在编辑 rather than a login name."""
    users = auth.list_users(request.app.state.ctx.engine)
    return {u.username: u.display_name for u in users if u.display_name and u.role != "device"}


def _choices(request: Request) -> tuple[list[str], list[tuple[str, str]]]:
    """Modalities and body parts of the RIS's exam catalogue, for the worklist's filters."""
    ris = request.app.state.ctx.ris
    procedures = ris.procedures() if ris is not None else []
    lang = _lang(request)
    parts = sorted({p.body_part for p in procedures if p.body_part})
    return sorted({p.modality for p in procedures}), [
        (part, body_parts.name(part, lang)) for part in parts
    ]


@router.get("/reporting")
def workspace_page(
    request: Request, user: Annotated[auth.User, Depends(require_page(*WORKSPACE))]
) -> Response:
    modalities, parts = _choices(request)
    context = {
        "modalities": modalities,
        "body_parts": parts,
        "page_data": {
            "username": user.username,
            "role": user.role,
            "names": _names(request),
            "body_parts": dict(parts),
            "autosave_seconds": AUTOSAVE_SECONDS,
            # A resident writes what they open; other doctors start a report on purpose.
            "start_on_open": user.role == "reporting_doctor",
            "may_start": user.role in DOCTORS,
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


def _catalogue(request: Request) -> dict[str, Any]:
    """The RIS's exam items and departments (names in the page's language), for the default
    template table, the levels table and the choices of the template form."""
    ris = request.app.state.ctx.ris
    if ris is None:
        return {"procedures": [], "departments": [], "modalities": []}
    english = _lang(request) == "en"

    def name(item: Any) -> str:
        return str((item.name_en if english else "") or item.name_zh)

    procedures = ris.procedures(active_only=True)
    return {
        "procedures": [
            {"code": p.code, "name": name(p), "modality": p.modality, "body_part": p.body_part}
            for p in procedures
        ],
        "departments": [{"code": d.code, "name": name(d)} for d in ris.departments()],
        "modalities": sorted({p.modality for p in procedures}),
    }


@router.get("/admin/reporting")
def admin_page(
    request: Request, user: Annotated[auth.User, Depends(require_page("admin"))]
) -> Response:
    return render(
        request,
        "reporting/admin.html",
        {"page_data": _catalogue(request)},
        i18n_prefixes=("reporting_admin.",),
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(
        app,
        PageLink("reporting_ui.nav.workspace", "/reporting", WORKSPACE, order=50, landing=DOCTORS),
    )
    add_page_link(
        app, PageLink("reporting_ui.nav.alerts", "/critical-alerts", ALERT_READERS, order=55)
    )
    add_page_link(app, PageLink("reporting_admin.nav", "/admin/reporting", ("admin",), order=918))
