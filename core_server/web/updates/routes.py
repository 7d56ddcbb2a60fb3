"""The boxes' update source and the admins' REST list (docs/updates.md).

``GET /updates/{role}/{name}`` needs no sign-in: a box's updater has no account, and what it
gets is public and checked against the signed SHA256SUMS. Only the files SHA256SUMS names
(and the two lists) are sent, streamed from disk (250 MB roots)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse

from core_server import auth, clock, updates
from core_server.refusals import NotFound
from core_server.updates.store import SUMS
from core_server.web.security import audit, require

AUDIT_REMOVE = "update.remove"

router = APIRouter(tags=["updates"])
Admin = Annotated[auth.User, Depends(require("admin"))]


def _store(request: Request) -> updates.UpdateStore:
    return updates.store_of(request.app.state.ctx.settings)


@router.get("/updates/{role}/{name}", include_in_schema=False)
def served(request: Request, role: str, name: str) -> FileResponse:
    path = _store(request).served(role, name)
    if path is None:
        raise NotFound("updates.not_served", role=role, name=name)
    kind = "text/plain; charset=utf-8" if name == SUMS else "application/octet-stream"
    # A box must never be handed a stale list by a cache between it and the core.
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "no-cache"})


def listing(store: updates.UpdateStore) -> dict[str, Any]:
    return {
        "key": {"present": store.key.present(), "fingerprint": store.key.fingerprint()},
        "roles": [
            {
                "role": role.role,
                "signature": role.signature,
                "url": f"/updates/{role.role}/",
                "versions": [
                    {
                        "version": v.version,
                        "size": v.size,
                        "published_at": clock.iso(v.published_at),
                        "files": [
                            {"name": f.name, "size": f.size, "sha256": f.sha256} for f in v.files
                        ],
                    }
                    for v in role.versions
                ],
            }
            for role in store.roles()
        ],
    }


@router.get("/api/updates")
def list_updates(request: Request, user: Admin) -> dict[str, Any]:
    """The published versions of every role, their sizes and each role's signature."""
    return listing(_store(request))


@router.delete("/api/updates/{role}/{version}")
def remove_version(request: Request, role: str, version: str, user: Admin) -> dict[str, Any]:
    """Stop offering a version (its files deleted, SHA256SUMS signed again)."""
    store = _store(request)
    store.remove(role, version)
    audit(request, user, AUDIT_REMOVE, f"update:{role}/{version}", {})
    return listing(store)


def install(app: FastAPI) -> None:
    app.include_router(router)
