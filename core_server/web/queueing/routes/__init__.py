"""REST API of the queue service (contract: ``docs/queue-api.md``) and its admin pages.

Refusals of the domain (:class:`~core_server.queueing.QueueRefusal`) are answered by the web's
one refusal handler: ``{"detail": {"code", "message", ...values}}`` in the caller's language
(``Accept-Language``: devices send theirs). Actions take an ``Idempotency-Key`` header; a
resend gets the first answer again with ``Idempotent-Replayed: true``. A device may act only
for the room, screen or queues it is bound to; staff roles for any.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from core_server.web.queueing.routes import calls, devices, enrolment, setup, tickets

router = APIRouter(prefix="/api/queueing", tags=["queueing"])
for part in (devices, enrolment, setup, calls, tickets):
    router.include_router(part.router)


def install(app: FastAPI) -> None:
    """The queue API (its refusals go to the web's one handler)."""
    app.include_router(router)


__all__ = ["install", "router"]
