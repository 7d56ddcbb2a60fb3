"""DICOMweb adapter: QIDO-RS, WADO-RS, WADO-URI and STOW-RS over the archive.

:func:`install` mounts QIDO-RS, WADO-RS and STOW-RS under ``/dicom-web`` and WADO-URI at
``/wado`` on the core's FastAPI app, with the role checks the caller gives (the web adapter's).
"""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI

from core_server.dicomweb import qido, stow, wado_rs, wado_uri
from core_server.dicomweb.access import CHECKS_STATE, ROLE_CHECKS
from core_server.dicomweb.metadata_warm import MetadataWarmer

router = APIRouter(tags=["dicomweb"])
router.include_router(qido.router, prefix="/dicom-web")
router.include_router(wado_rs.router, prefix="/dicom-web")
router.include_router(stow.router, prefix="/dicom-web")
router.include_router(wado_uri.router)


def install(app: FastAPI, require: Callable[..., Callable[..., Any]]) -> None:
    """Serve DICOMweb on ``app``; ``require(*roles)`` makes the dependency that admits a
    signed-in user holding one of the roles, whose ``authorize(request)`` does the same
    called directly (see :mod:`core_server.dicomweb.access`)."""
    app.include_router(router)
    checks = {
        roles: require(*roles).authorize  # type: ignore[attr-defined]
        for roles in ROLE_CHECKS.values()
    }
    setattr(app.state, CHECKS_STATE, checks)
    ctx = app.state.ctx  # series metadata made ahead, once a modality is done (docs/one-node.md)
    warmer = MetadataWarmer(ctx.engine, ctx.archive)
    ctx.on_startup.append(warmer.start)
    ctx.on_shutdown.append(warmer.stop)


__all__ = ["install", "router"]
