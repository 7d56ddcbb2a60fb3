"""Who may call what of the RIS API, and what every route module of it shares."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from core_server import auth
from core_server.refusals import Refusal
from core_server.ris import Ris
from core_server.web.security import audit, require

STAFF = ("admin", "registrar", "technician", "reporting_doctor", "reviewing_doctor", "clinician")
REGISTRARS = ("admin", "registrar")
PERFORMERS = ("admin", "registrar", "technician")
RECONCILERS = ("admin", "technician")
DOCTORS = ("admin", "reporting_doctor", "reviewing_doctor")
# The ticket printer and caller devices check patients in and read exams.
DEVICE_READERS = (*STAFF, "device")

Staff = Annotated[auth.User, Depends(require(*STAFF))]
Registrar = Annotated[auth.User, Depends(require(*REGISTRARS))]
Performer = Annotated[auth.User, Depends(require(*PERFORMERS))]
Reconciler = Annotated[auth.User, Depends(require(*RECONCILERS))]
Admin = Annotated[auth.User, Depends(require("admin"))]
Reader = Annotated[auth.User, Depends(require(*DEVICE_READERS))]
StatusChanger = Annotated[auth.User, Depends(require(*PERFORMERS, *DOCTORS[1:], "device"))]


def ris(request: Request) -> Ris:
    service: Ris | None = request.app.state.ctx.ris
    if service is None:
        raise Refusal("ris.unavailable", 503)
    return service


def record(request: Request, user: auth.User, action: str, target: str, **detail: Any) -> None:
    """An entry of the audit trail."""
    audit(request, user, action, target, detail)
