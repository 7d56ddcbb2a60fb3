"""The one answer to a domain's :class:`~core_server.refusals.Refusal`, for every REST route
and page: ``{"detail": {"code": ..., "message": <in the caller's language>, ...values}}`` with
the refusal's HTTP status (``Retry-After`` when it says when to try again,
``WWW-Authenticate: Bearer`` with a 401). A page route (one guarded by ``require_page``), or
a browser asking for HTML outside the API and DICOMweb, gets the same message as the HTML
error page instead, so a page never shows a JSON body.

Storage that cannot take a write is a refusal too, not a 500: a full disk or database answers
507 ``web.storage.full``, a database that refuses writes (read-only file or server, locked
too long) 503 ``web.storage.unwritable``; each is logged with its cause and remembered for
``/healthz`` (``health.py``), which then says ``degraded``.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from core_server import i18n
from core_server.refusals import Refusal
from core_server.web.proxies import PATIENT_DATA_PREFIXES

log = logging.getLogger(__name__)


class StorageRefusal(Refusal):
    """A write the disk or the database could not take (``reason`` says which)."""

    def __init__(self, code: str, status: int, reason: str) -> None:
        super().__init__(code, status)
        self.reason = reason


def caller_language(request: Request) -> str:
    return i18n.language(request.cookies, request.headers.get("accept-language", ""))


def wants_page(request: Request) -> bool:
    """A page route (``require_page`` marks it), or a browser navigating to one: not a
    script calling the API."""
    if getattr(request.state, "page", False):
        return True
    accept = request.headers.get("accept", "")
    return "text/html" in accept and not request.url.path.startswith(PATIENT_DATA_PREFIXES)


def refusal_response(request: Request, refusal: Refusal) -> Response:
    headers = {}
    if "retry_after" in refusal.values:
        headers["Retry-After"] = str(refusal.values["retry_after"])
    if refusal.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    lang = caller_language(request)
    if wants_page(request):
        from core_server.web.templating import render  # the pages' layout, only for pages

        title_key = "web.error.forbidden_title" if refusal.status == 403 else "web.error.title"
        return render(
            request,
            "web/error.html",
            {"title": i18n.translate(lang, title_key), "message": refusal.text(lang)},
            status_code=refusal.status,
            headers=headers,
        )
    body = {"detail": refusal.as_dict(lang)}
    return JSONResponse(body, status_code=refusal.status, headers=headers)


def storage_refusal(exc: BaseException) -> StorageRefusal | None:
    """The refusal for a write the disk or database could not take, or None for any other
    error (which stays a 500: a bug, logged with its trace)."""
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageRefusal("web.storage.full", 507, f"disk full: {exc}")
        if exc.errno == errno.EROFS:
            return StorageRefusal("web.storage.unwritable", 503, f"read-only file system: {exc}")
        return None
    if not isinstance(exc, DBAPIError):
        return None
    original: Any = exc.orig
    sqlstate = str(getattr(original, "sqlstate", "") or getattr(original, "pgcode", "") or "")
    text = str(original).lower()
    if sqlstate.startswith("53") or "disk is full" in text or "disk full" in text:
        return StorageRefusal("web.storage.full", 507, f"database full: {original}")
    if sqlstate == "25006" or "readonly database" in text or "read-only" in text:
        return StorageRefusal("web.storage.unwritable", 503, f"database read-only: {original}")
    if "database is locked" in text or "disk i/o error" in text:
        return StorageRefusal("web.storage.unwritable", 503, f"database unavailable: {original}")
    return None


def install(app: FastAPI) -> None:
    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refusal)
        return refusal_response(request, exc)

    async def storage_failed(request: Request, exc: Exception) -> Response:
        refusal = storage_refusal(exc)
        if refusal is None:
            raise exc  # not a storage problem: the server error it is
        log.error("%s %s refused: %s", request.method, request.url.path, refusal.reason)
        health = getattr(request.app.state, "health", None)
        if health is not None:
            health.write_failed(refusal.code, refusal.reason)
        return refusal_response(request, refusal)

    app.add_exception_handler(Refusal, refused)
    app.add_exception_handler(DBAPIError, storage_failed)
    app.add_exception_handler(OSError, storage_failed)
