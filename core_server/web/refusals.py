"""The one answer to a domain's :class:`~core_server.refusals.Refusal`, for every REST route
and page: ``{"detail": {"code": ..., "message": <in the caller's language>, ...values}}`` with
the refusal's HTTP status (and ``Retry-After`` when it says when to try again)."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from core_server import i18n
from core_server.refusals import Refusal


def caller_language(request: Request) -> str:
    return i18n.language(request.cookies, request.headers.get("accept-language", ""))


def refusal_response(request: Request, refusal: Refusal) -> JSONResponse:
    headers = {}
    if "retry_after" in refusal.values:
        headers["Retry-After"] = str(refusal.values["retry_after"])
    body = {"detail": refusal.as_dict(caller_language(request))}
    return JSONResponse(body, status_code=refusal.status, headers=headers)


def install(app: FastAPI) -> None:
    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refusal)
        return refusal_response(request, exc)

    app.add_exception_handler(Refusal, refused)
