"""The queue service's refusals: a :class:`~core_server.refusals.Refusal` whose ``code`` is the
stable word the device programs act on (``no_waiting_patient``, ``too_soon``, ``ticket_taken``:
see ``docs/queue-api.md``) while its text comes from the catalogue key
``queueing.refusal.<code>[.<reason>]`` (one code has several wordings: ``wrong_status`` says
which status was wrong). The web adapter answers it like any refusal:
``{"detail": {"code", "message", ...values}}`` in the caller's language.
"""

from __future__ import annotations

from typing import Any

from core_server.refusals import Refusal

PREFIX = "queueing.refusal."


class QueueRefusal(Refusal):
    status = 409

    def __init__(self, code: str, reason: str = "", /, **values: Any) -> None:
        super().__init__(code, None, **values)
        self.key = PREFIX + code + (f".{reason}" if reason else "")


class NotFound(QueueRefusal):
    status = 404


class Forbidden(QueueRefusal):
    status = 403


class Invalid(QueueRefusal):
    status = 422


def not_found(what: str, code: str) -> NotFound:
    """``what``: room, queue, screen, ticket, device."""
    return NotFound("not_found", what, code=code)


def invalid(reason: str, **values: Any) -> Invalid:
    return Invalid("invalid", reason, **values)
