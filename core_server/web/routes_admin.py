"""Administration: users, the modality registry, archive statistics. Every change is audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from core_server import auth, modalities
from core_server.auth import AuditAction
from core_server.refusals import Conflict
from core_server.web.routes_auth import password_policy
from core_server.web.security import audit, require

admin = Depends(require("admin"))
router = APIRouter(prefix="/api", tags=["admin"])


class ModalityIn(BaseModel):
    ae_title: str = Field(min_length=1, max_length=16)
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    description: str = ""
    allow_store: bool = True
    allow_query: bool = True
    allow_retrieve: bool = True
    ascii_only: bool = False  # worklist names in pinyin only (consoles without Chinese)
    allow_overwrite: bool = False  # may replace an archived object under its SOP Instance UID
    tls: bool = False  # our associations to it over DICOM TLS


class ModalityChange(BaseModel):
    ae_title: str | None = Field(None, min_length=1, max_length=16)
    host: str | None = Field(None, min_length=1, max_length=255)
    port: int | None = Field(None, ge=1, le=65535)
    description: str | None = None
    allow_store: bool | None = None
    allow_query: bool | None = None
    allow_retrieve: bool | None = None
    ascii_only: bool | None = None
    allow_overwrite: bool | None = None
    tls: bool | None = None


def _engine(request: Request) -> Any:
    return request.app.state.ctx.engine


def _audit(
    request: Request, user: auth.User, action: str, target: str, detail: dict[str, Any]
) -> None:
    audit(request, user, action, target, detail)


Admin = Annotated[auth.User, admin]


@router.get("/modalities", dependencies=[admin])
def list_modalities(request: Request) -> list[dict[str, Any]]:
    return [m.as_dict() for m in modalities.list_modalities(_engine(request))]


@router.post("/modalities", status_code=201)
def add_modality(request: Request, body: ModalityIn, user: Admin) -> dict[str, Any]:
    # A refused change is a modalities.ModalityError: the one refusal handler answers it.
    added = modalities.add_modality(_engine(request), modalities.Modality(**body.model_dump()))
    _audit(
        request, user, AuditAction.MODALITY_CREATE, f"modality:{added.ae_title}", body.model_dump()
    )
    return added.as_dict()


@router.get("/modalities/{ae_title}", dependencies=[admin])
def get_modality(request: Request, ae_title: str) -> dict[str, Any]:
    found = modalities.get_modality(_engine(request), ae_title)
    if found is None:
        raise modalities.UnknownModality(ae_title)
    return found.as_dict()


@router.patch("/modalities/{ae_title}")
def change_modality(
    request: Request, ae_title: str, body: ModalityChange, user: Admin
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    changed = modalities.update_modality(_engine(request), ae_title, **changes)
    _audit(request, user, AuditAction.MODALITY_CHANGE, f"modality:{ae_title}", changes)
    return changed.as_dict()


@router.delete("/modalities/{ae_title}", status_code=204)
def remove_modality(request: Request, ae_title: str, user: Admin) -> None:
    modalities.remove_modality(_engine(request), ae_title)
    _audit(request, user, AuditAction.MODALITY_DELETE, f"modality:{ae_title}", {})


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str  # the site's password policy judges it (400 with the rules it fails)
    role: str
    display_name: str = ""


@router.get("/users", dependencies=[admin])
def list_users(request: Request) -> list[auth.User]:
    return auth.list_users(_engine(request))


@router.post("/users", status_code=201)
def add_user(request: Request, body: UserIn, user: Admin) -> auth.User:
    created = auth.create_user(
        _engine(request),
        body.username,
        body.password,
        body.role,
        body.display_name,
        must_change_password=True,
        policy=password_policy(request),
    )
    detail = {"role": body.role, "display_name": body.display_name}
    _audit(request, user, AuditAction.USER_CREATE, f"user:{body.username}", detail)
    return created


class UserChange(BaseModel):
    display_name: str | None = Field(None, max_length=128)
    role: str | None = None
    active: bool | None = None


@router.patch("/users/{username}")
def change_user(request: Request, username: str, body: UserChange, user: Admin) -> auth.User:
    changes = body.model_dump(exclude_none=True)
    if username == user.username and (changes.get("active") is False or "role" in changes):
        raise Conflict("web.users.not_yourself")
    changed = auth.update_user(_engine(request), username, **changes)
    _audit(request, user, AuditAction.USER_CHANGE, f"user:{username}", changes)
    return changed


class PasswordReset(BaseModel):
    password: str


@router.post("/users/{username}/password", status_code=204)
def reset_password(request: Request, username: str, body: PasswordReset, user: Admin) -> None:
    """A temporary password the user must change at next sign-in; also clears the account's
    sign-in backoff."""
    auth.reset_password(_engine(request), username, body.password, policy=password_policy(request))
    _audit(request, user, AuditAction.USER_UNLOCK, f"user:{username}", {"password_reset": True})


@router.get("/archive/statistics")
def statistics(
    request: Request, _user: Annotated[auth.User, Depends(require(*auth.ROLES))]
) -> dict[str, int]:
    return request.app.state.ctx.archive.statistics()
