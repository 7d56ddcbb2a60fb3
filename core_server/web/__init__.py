"""HTTP adapter: FastAPI routers for the REST API (and later pages, DICOMweb, the viewer)."""

from core_server.web.app import WebContext, create_web_app

__all__ = ["WebContext", "create_web_app"]
