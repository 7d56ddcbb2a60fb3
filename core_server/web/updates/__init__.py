"""Web side of the image updates (docs/updates.md): ``/updates/<role>/`` for the boxes (open,
GET only: the content is public and signed), ``/api/updates`` and ``/admin/updates`` for
admins."""

from __future__ import annotations

from fastapi import FastAPI

from core_server.web.updates import pages, routes


def install(app: FastAPI) -> None:
    routes.install(app)
    pages.install(app)
