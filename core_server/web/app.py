"""The FastAPI application: health, authentication, users, modalities, archive statistics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine

from core_server.archive import Archive
from core_server.followup import Followup
from core_server.monitoring import Monitoring
from core_server.quality.service import Quality
from core_server.queueing import QueueService
from core_server.reporting import Reporting
from core_server.ris import Ris
from core_server.settings import Settings
from core_server.statistics import Statistics
from core_server.storage import Lifecycle
from core_server.web import (
    health,
    refusals,
    routes_admin,
    routes_auth,
    websocket,
)
from core_server.web import storage as storage_web
from core_server.web.capture import install as capture_install
from core_server.web.discs import cloud_pages as discs_cloud_pages
from core_server.web.discs import cloud_routes as discs_cloud_routes
from core_server.web.discs import pages as discs_pages
from core_server.web.discs import routes as discs_routes
from core_server.web.film import routes_compose as film_compose
from core_server.web.film import routes_printers as film_printers
from core_server.web.film import routes_quality as film_quality
from core_server.web.film import routes_sheets as film_sheets
from core_server.web.followup import pages as followup_pages
from core_server.web.followup import routes as followup_routes
from core_server.web.hl7 import pages as hl7_pages
from core_server.web.hl7 import routes as hl7_routes
from core_server.web.monitoring import pages as monitoring_pages
from core_server.web.monitoring import routes as monitoring_routes
from core_server.web.proxies import ForwardedHeaders, SecurityHeaders
from core_server.web.quality import pages as quality_pages
from core_server.web.quality import routes as quality_routes
from core_server.web.queueing import pages as queueing_pages
from core_server.web.queueing import routes as queueing_routes
from core_server.web.reporting import pages as reporting_pages
from core_server.web.reporting import routes as reporting_routes
from core_server.web.ris import pages as ris_pages
from core_server.web.ris import routes as ris_routes
from core_server.web.shell import pages
from core_server.web.statistics import pages as statistics_pages
from core_server.web.statistics import routes as statistics_routes
from core_server.web.statistics import turnaround as statistics_turnaround
from core_server.web.updates import install as updates_install
from core_server.web.viewer import routes as viewer_routes


@dataclass
class WebContext:
    """What the routes need, built by the server and kept on ``app.state.ctx``."""

    settings: Settings
    engine: Engine
    archive: Archive
    ris: Ris | None = None
    queueing: QueueService | None = None
    reporting: Reporting | None = None
    # The HL7 adapter's Hl7Service (typed loosely: adapters do not import each other).
    hl7: Any = None
    statistics: Statistics | None = None
    quality: Quality | None = None
    followup: Followup | None = None
    monitoring: Monitoring | None = None
    lifecycle: Lifecycle | None = None  # the archive's lifecycle parts (core_server.storage)
    # Listener name -> "is it up?"; /healthz answers 200 only when all are.
    listeners: dict[str, Callable[[], bool]] = field(default_factory=dict)
    on_startup: list[Callable[[], None]] = field(default_factory=list)
    on_shutdown: list[Callable[[], None]] = field(default_factory=list)


def create_web_app(ctx: WebContext) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for start in ctx.on_startup:
            start()
        ctx.listeners["http"] = lambda: True
        try:
            yield
        finally:
            ctx.listeners["http"] = lambda: False
            for stop in reversed(ctx.on_shutdown):
                stop()

    app = FastAPI(
        title="Imaging appliance core server",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
        openapi_url="/api/openapi.json",
    )
    app.state.ctx = ctx
    refusals.install(app)

    health.install(app)
    # The last added runs first: forwarded headers (trusted proxies only) before anything
    # reads the client's address; inside it, the headers every response carries.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ForwardedHeaders, trusted=ctx.settings.trusted_proxies)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_elsewhere() -> RedirectResponse:
        """Where tools look first; the document lives with the rest of the API."""
        return RedirectResponse("/api/openapi.json", status_code=308)

    app.include_router(routes_auth.router)
    app.include_router(routes_admin.router)
    queueing_routes.install(app)
    queueing_pages.install(app)
    app.include_router(websocket.router)
    ris_routes.install(app)
    reporting_routes.install(app)
    app.include_router(hl7_routes.router)
    pages.install(app)
    ris_pages.install(app)
    reporting_pages.install(app)
    hl7_pages.install(app)
    statistics_routes.install(app)
    statistics_turnaround.install(app)  # before the pages: /statistics/{name} would take its paths
    statistics_pages.install(app)
    quality_routes.install(app)
    quality_pages.install(app)
    followup_routes.install(app)
    followup_pages.install(app)
    monitoring_routes.install(app)
    monitoring_pages.install(app)
    discs_cloud_routes.install(app)  # before the job routes: /api/discs/{id} takes any name
    discs_cloud_pages.install(app)
    discs_routes.install(app)
    discs_pages.install(app)
    capture_install(app)  # scopes, pathology, live view (web/capture)
    film_quality.install(app)  # film quality grades, /film/quality (web/film)
    film_printers.install(app)  # laser imagers, print jobs, /film/printers (web/film)
    film_compose.install(app)  # the film composer /film/compose (web/film)
    film_sheets.install(app)  # exams' film sheets, films without exam (web/film)
    storage_web.install(app)  # /api/storage and the lifecycle pages (web/storage)
    updates_install(app)  # /updates/<role>/ for the boxes, /admin/updates (web/updates)
    app.include_router(viewer_routes.create_router(ctx.settings))
    return app
