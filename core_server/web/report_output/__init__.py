"""Report output's web adapter: its REST API (``routes``: printing, PDFs, archived objects,
reprint grants), its pages (``pages``: the clinicians' report view, the administrator's
printing and archiving page), their templates, scripts and texts (``templates/``,
``static/``, ``messages.json``)."""

from __future__ import annotations

from fastapi import FastAPI

from core_server.reporting.output import ReportOutput
from core_server.web.report_output import pages, routes
from core_server.web.report_output.routes import READ_ROLES
from core_server.web.templating import PageLink, add_page_link


def install(app: FastAPI, output: ReportOutput) -> None:
    """Report output on ``app`` (the server calls it when the core has a report output)."""
    app.state.report_output = output
    app.include_router(routes.router)
    app.include_router(pages.router)
    add_page_link(app, PageLink("report_output.nav.view", "/reports/view", READ_ROLES, order=60))
    add_page_link(
        app, PageLink("report_output.nav.admin", "/admin/report-output", ("admin",), order=935)
    )
