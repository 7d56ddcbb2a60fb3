"""The capture feature: endoscope disinfection log, pathology request form, supervisor live
view (routes, pages, the live relay)."""

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    from core_server.web.capture import live, pages, routes

    routes.install(app)
    live.install(app)
    pages.install(app)
