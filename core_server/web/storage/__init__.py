"""The lifecycle's REST API under ``/api/storage`` and its admin pages: one routes module
(and pages) per part of :mod:`core_server.storage`."""

from __future__ import annotations

from fastapi import FastAPI

from core_server.web.storage import (
    routes_compression,
    routes_forwarding,
    routes_importing,
    routes_recycle,
    routes_tiers,
)


def install(app: FastAPI) -> None:
    for part in (
        routes_tiers,
        routes_compression,
        routes_forwarding,
        routes_recycle,
        routes_importing,
    ):
        part.install(app)
