"""Who may use DICOMweb, and the audit records of what they saw or took."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request

from core_server import auth
from core_server.archive import Archive

log = logging.getLogger(__name__)

# Everyone who looks at images. The registrar may search (to see whether an exam's images have
# arrived) but not open them; devices only send (a capture station, a modality gateway).
IMAGE_READERS = (
    "admin",
    "technician",
    "reporting_doctor",
    "reviewing_doctor",
    "department_head",
    "clinician",
)
SEARCHERS = (*IMAGE_READERS, "registrar")
SENDERS = ("admin", "technician", "device")


# The routes depend on these; the server gives :func:`core_server.dicomweb.install` the web
# adapter's role checks (``core_server.web.security.require``: bearer token or session cookie),
# which this adapter may not import (adapters are independent of each other), and each
# placeholder calls the check for its roles with the request. Not installed, they refuse
# everyone. (Not ``app.dependency_overrides``: while any is set, FastAPI rebuilds every
# dependency of every route of the app from its signature on each request, ~7 % of a frame.)
CHECKS_STATE = "dicomweb_checks"  # app.state attribute: roles -> authorize(request) -> User


def _admitted(request: Request, roles: tuple[str, ...]) -> auth.User:
    checks = getattr(request.app.state, CHECKS_STATE, None)
    if checks is None:
        raise RuntimeError("DICOMweb authentication is not installed")
    user: auth.User = checks[roles](request)
    return user


def may_search(request: Request) -> auth.User:
    return _admitted(request, SEARCHERS)


def may_read_images(request: Request) -> auth.User:
    return _admitted(request, IMAGE_READERS)


def may_send_images(request: Request) -> auth.User:
    return _admitted(request, SENDERS)


ROLE_CHECKS = {may_search: SEARCHERS, may_read_images: IMAGE_READERS, may_send_images: SENDERS}
for _placeholder, _roles in ROLE_CHECKS.items():
    _placeholder.roles = _roles  # type: ignore[attr-defined]  # read by the route-table test


def archive_of(request: Request) -> Archive:
    archive: Archive = request.app.state.ctx.archive
    return archive


def audit(
    request: Request, user: auth.User, action: str, study_uids: set[str], **detail: Any
) -> None:
    """One audit record per study a request showed or delivered. An audit failure is logged,
    never turned into a failed image request (the images were already sent)."""
    address = request.client.host if request.client else ""
    for study_uid in sorted(study_uids):
        try:
            auth.record_audit(
                request.app.state.ctx.engine,
                username=user.username,
                action=action,
                target=f"study:{study_uid}",
                detail={"path": request.url.path, **detail},
                address=address,
            )
        except Exception:
            log.exception("cannot record audit event %s for study %s", action, study_uid)


# A viewer repeats the same search as its user scrolls and reopens: the same user's same query
# within a minute is one entry (the next says how many repeats it stands for; docs/atna.md).
_QUERIES = auth.Coalescer(60.0)


def audit_query(request: Request, user: auth.User, level: str, keys: dict[str, str]) -> None:
    """One ``dicom.query`` audit record per QIDO-RS search (sent on as an ATNA Query): the
    keys matched on, not the empty ones that only ask for a value back."""
    keys = {k: v for k, v in keys.items() if v}
    repeated = _QUERIES.admit((user.username, level, tuple(sorted(keys.items()))))
    if repeated is None:
        return
    detail: dict[str, Any] = {"level": level, "keys": keys, "channel": "qido-rs"}
    if repeated:
        detail["repeated"] = repeated
    try:
        auth.record_audit(
            request.app.state.ctx.engine,
            username=user.username,
            action="dicom.query",
            target=f"user:{user.username}",
            detail=detail,
            address=request.client.host if request.client else "",
        )
    except Exception:
        log.exception("cannot record the audit of a QIDO-RS search")
