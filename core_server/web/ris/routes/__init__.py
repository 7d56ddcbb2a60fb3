"""The RIS REST API (``/api/ris/...``): for the registration and technician pages, and for a
HIS that cannot speak HL7 (a database-sync adapter registers patients, places orders and
reads exam status here). Refusals answer ``{"detail": {"code", "message", ...values}}`` with
400 invalid input, 404 unknown, 409 conflicts and illegal status steps (the one refusal
handler, in the caller's language). Times are ISO 8601 with the hospital's offset; a time
sent without one is the hospital's wall clock.

One module per part: ``patients`` (and visits, the pinyin of a typed name), ``orders``,
``exams`` (status, check-in, the technician's work, bookings, labels, scans), ``catalogue``
(departments, exam items, rooms and their slots), ``reconciliation``; ``access`` says who may
call what.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from core_server.web.ris.routes import catalogue, exams, orders, patients, reconciliation

router = APIRouter(prefix="/api/ris", tags=["ris"])
for part in (patients, orders, exams, catalogue, reconciliation):
    router.include_router(part.router)


def install(app: FastAPI) -> None:
    app.include_router(router)
