"""The reporting REST API (``/api/reporting/...``) for the worklist and report editor pages,
the clinicians' views and the administrators' configuration.

Roles: reporting doctors write, reviewing doctors review and sign (their grade, resident /
attending / chief, decides the step), administrators configure and may break a lock,
clinicians read signed reports and acknowledge critical values, technicians grade image
quality. A report comes with the ``allowed_actions`` of the asking user. Refusals answer
``{"detail": {"code", "message", ...values}}`` in the caller's language (the one refusal
handler): 400 invalid input, 403 a step the user's grade may not take, 404 unknown, 409 a
state conflict (a held lock adds ``holder`` and ``expires_at``), 422 forbidden or mutually
exclusive words (``problems``). Times are ISO 8601 with the hospital's offset.

One module per part: ``reports`` (worklist, opening, lock, writing, versions, steps),
``marks`` (flags, key images, grades, follow-up, priors), ``critical``, ``templates``
(and word rules), ``setup``; ``access`` says who may call what.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from core_server.web.reporting.routes import critical, marks, reports, setup, templates

router = APIRouter(prefix="/api/reporting", tags=["reporting"])
for part in (reports, marks, critical, templates, setup):
    router.include_router(part.router)


def install(app: FastAPI) -> None:
    app.include_router(router)
