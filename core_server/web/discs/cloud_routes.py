"""Who and what may be burned, the release right, and the cloud-film links (docs/discs.md):

- ``POST /api/discs/identify`` (an enrolled kiosk, or the desk): the patient a scanned code or
  an ID card with its birth date names, and which of their exams may be burned.
- ``GET|PUT /api/discs/release/{exam_id}``: an exam's release right; doctors and the
  administrator hold an exam back (with a reason) or release it again. Audited.
- ``GET /api/discs/links``, ``POST /api/discs/links/{id}/revoke`` (admin): the cloud-film links
  issued, and withdrawing one at once. Audited.

Installed before the disc-job routes: ``/api/discs/{id}`` would otherwise take ``links``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field, model_validator

from core_server import auth, db, queueing
from core_server.discs import cloud, eligibility, release
from core_server.refusals import Forbidden, Invalid
from core_server.web.security import audit, client_address, require

IDENTIFIERS = ("admin", "registrar")  # the desk identifies for a patient; kiosks for themselves
READERS = (*release.RELEASERS, "registrar", "technician")

router = APIRouter(prefix="/api/discs", tags=["discs"])
Identifier = Annotated[auth.User, Depends(require(*IDENTIFIERS, "device"))]
Reader = Annotated[auth.User, Depends(require(*READERS))]
Releaser = Annotated[auth.User, Depends(require(*release.RELEASERS))]
Admin = Annotated[auth.User, Depends(require("admin"))]


class IdentifyBody(BaseModel):
    code: str = Field("", max_length=500, description="accession number, patient ID or QR URL")
    id_card: str = Field("", max_length=18)
    birth_date: str = Field("", max_length=10, description="YYYY-MM-DD")

    @model_validator(mode="after")
    def _one_way(self) -> IdentifyBody:
        if not self.code.strip() and not (self.id_card.strip() and self.birth_date.strip()):
            raise ValueError("a code, or an ID-card number with the birth date")
        return self


class ReleaseBody(BaseModel):
    released: bool = Field(description="false: hold the exam back (no disc, no cloud film)")
    reason: str = Field("", max_length=500, description="why it is held (needed to hold)")


@router.post("/identify")
def identify(request: Request, body: IdentifyBody, user: Identifier) -> dict[str, Any]:
    """The patient and their exams, each with ``may_burn`` and ``why_not`` (404
    ``discs.not_found`` alike whichever part was wrong)."""
    engine = request.app.state.ctx.engine
    if user.role == "device":
        device = queueing.devices.device_for_user(engine, user.username)
        if device is None or device.kind != "kiosk":
            raise Forbidden("discs.not_a_kiosk")
    with db.read(engine) as conn:
        try:
            found = eligibility.identify(
                conn,
                code=body.code,
                id_card=body.id_card,
                birth_date=body.birth_date,
                images_without_report=request.app.state.ctx.settings.disc_images_without_report,
            )
        except Exception:
            audit(request, user, "discs.identify_failed", "", {"by": _way(body)})
            raise
    patient = found["patient"]["patient_id"]
    audit(request, user, "discs.identify", f"patient:{patient}", {"by": _way(body)})
    return found


def _way(body: IdentifyBody) -> str:
    return "code" if body.code.strip() else "id_card"


@router.get("/release/{exam_id}")
def release_state(request: Request, exam_id: int, _user: Reader) -> dict[str, Any]:
    held = release.hold_of(request.app.state.ctx.engine, exam_id)
    return held.as_dict() if held is not None else release.released(exam_id)


@router.put("/release/{exam_id}")
def set_release(
    request: Request, exam_id: int, body: ReleaseBody, user: Releaser
) -> dict[str, Any]:
    engine = request.app.state.ctx.engine
    address = client_address(request)
    if body.released:
        release.release(engine, exam_id, by=user.username, address=address)
        return release.released(exam_id)
    return release.hold(engine, exam_id, body.reason, by=user.username, address=address).as_dict()


@router.get("/links")
def links(
    request: Request, _user: Admin, patient_id: str = "", job_id: int | None = None
) -> list[dict[str, Any]]:
    """Newest first (at most 200); each with its state: active, expired or revoked."""
    found = cloud.list_links(request.app.state.ctx.engine, patient_id=patient_id, job_id=job_id)
    return [link.as_dict() for link in found]


@router.post("/links/{link_id}/revoke")
def revoke(request: Request, link_id: int, user: Admin) -> dict[str, Any]:
    engine = request.app.state.ctx.engine
    if link_id < 1:
        raise Invalid("discs.cloud.link_not_found", link_id=link_id)
    return cloud.revoke(
        engine, link_id, by=user.username, address=client_address(request)
    ).as_dict()


def install(app: FastAPI) -> None:
    ctx = app.state.ctx
    if ctx.ris is None:
        return
    cloud.configure(ctx.engine, ctx.settings)
    app.include_router(router)
