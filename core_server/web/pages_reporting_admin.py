"""The administrator's reporting configuration page ``/admin/reporting``: shared templates
(system and department: list, edit, retire) and the default template of each exam item,
forbidden and mutually exclusive words, sign-off levels per department, and the reporting
settings (critical-value escalation time, editing lock, default levels). A server-rendered
shell; its script works on the ``/api/reporting`` JSON API, which checks and audits every
change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from core_server import auth, i18n
from core_server.web.security import require_page
from core_server.web.templating import PageLink, add_page_link, render

router = APIRouter(include_in_schema=False)


def _catalogue(request: Request) -> dict[str, Any]:
    """The RIS's exam items and departments (names in the page's language), for the default
    template table, the levels table and the choices of the template form."""
    ris = request.app.state.ctx.ris
    if ris is None:
        return {"procedures": [], "departments": [], "modalities": []}
    english = i18n.language(request.cookies) == "en"

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
def reporting_admin_page(
    request: Request, user: Annotated[auth.User, Depends(require_page("admin"))]
) -> Response:
    return render(
        request,
        "reporting_admin/admin.html",
        {"page_data": _catalogue(request)},
        i18n_prefixes=("reporting_admin.",),
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_page_link(app, PageLink("reporting_admin.nav", "/admin/reporting", ("admin",), order=918))
