"""Enrolment by code (``core_server.queueing.enrolment_codes``): a device without a key asks
for a code anonymously and polls with its secret; an administrator lists and confirms codes."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from core_server import clock
from core_server.queueing import enrolment_codes
from core_server.web.queueing.routes.access import ADMIN, Admin, record, service
from core_server.web.security import require

router = APIRouter()
PATH = "/enrolment-codes"


class CodeRequest(BaseModel):
    kind: str = Field(min_length=1, max_length=16)
    name: str = Field("", max_length=48)  # the device's suggested name
    hostname: str = Field("", max_length=64)


class Confirmation(BaseModel):
    code: str = Field(min_length=6, max_length=12)
    name: str = Field(min_length=1, max_length=48)
    room: str | None = None
    screen: str | None = None
    queues: list[str] = []


def _ca_pem(request: Request) -> str:
    """The CA devices pin (settings ``tls_ca``), or "" while the core has none."""
    path = getattr(request.app.state.ctx.settings, "tls_ca", None)
    if path is None or not Path(path).is_file():
        return ""
    return Path(path).read_text(encoding="ascii")


@router.post(PATH, status_code=201)
def request_code(request: Request, body: CodeRequest) -> dict[str, Any]:
    client = request.client.host if request.client else "unknown"
    asked = enrolment_codes.request_code(
        request.app.state.ctx.engine, body.kind, body.name, body.hostname, client
    )
    return {
        "code": asked.code,
        "expires_at": clock.iso(asked.expires_at),
        "poll": f"/api/queueing{PATH}/{asked.secret}",
    }


@router.get(PATH, dependencies=[Depends(require(*ADMIN))])
def pending_codes(request: Request) -> list[dict[str, Any]]:
    return enrolment_codes.pending(request.app.state.ctx.engine)


@router.post(PATH + "/confirm", status_code=201)
def confirm_code(request: Request, body: Confirmation, user: Admin) -> dict[str, Any]:
    device = enrolment_codes.confirm(
        request.app.state.ctx.engine,
        body.code,
        user.username,
        body.name,
        room=body.room,
        screen=body.screen,
        queues=tuple(body.queues),
    )
    service(request).journal_config_change("device", device.name)
    record(request, user, "device.enrol_by_code", f"device:{device.name}", kind=device.kind)
    return {k: v for k, v in device.as_dict().items() if k != "username"}


@router.get(PATH + "/certificate", dependencies=[Depends(require(*ADMIN))])
def certificate(request: Request) -> dict[str, str]:
    """The fingerprint a device met at first contact shows beside its code (device_kit's
    ``enrol_code.fingerprint``: SHA-256 of the certificate, first 128 bits), "" without one."""
    path = getattr(request.app.state.ctx.settings, "tls_cert", None)
    if path is None or not Path(path).is_file():
        return {"fingerprint": ""}
    pem = Path(path).read_text(encoding="ascii")
    first = pem[: pem.index("-----END CERTIFICATE-----") + 25]
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(first)).hexdigest().upper()[:32]
    return {"fingerprint": " ".join(digest[i : i + 4] for i in range(0, 32, 4))}


@router.delete(PATH + "/{code}", status_code=204)
def refuse_code(request: Request, code: str, user: Admin) -> None:
    enrolment_codes.refuse(request.app.state.ctx.engine, code)
    record(request, user, "device.enrol_refused", f"enrolment-code:{code}")


@router.get(PATH + "/{secret}")
def poll(request: Request, secret: str) -> dict[str, Any]:
    return enrolment_codes.poll(request.app.state.ctx.engine, secret, _ca_pem(request))
