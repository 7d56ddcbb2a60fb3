"""The OHIF viewer at ``/viewer``: its files, its configuration, and the launch URL.

OHIF is a single-page app: it is served from the installed bundle (see ``viewer_bundle``) on
this origin, reads our DICOMweb (``/dicom-web``, ``/wado``) with the browser's session cookie,
and answers every unknown path under ``/viewer`` with ``index.html`` so its own router can
show it. The page asks for cross-origin isolation (COOP + COEP) so that Cornerstone may use
SharedArrayBuffer (browsers grant it over HTTPS and on localhost), and its
Content-Security-Policy lets it talk to this server only.

A HIS/EMR opens images with ``/viewer?StudyInstanceUIDs=...`` or looks them up with
``/viewer/launch?AccessionNumber=...`` / ``?PatientID=...``; both go through sign-in first.
"""

# No ``from __future__ import annotations`` here: FastAPI evaluates string annotations in
# module globals, and the routes' dependencies are closures over the router's bundle.
import json
import logging
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from core_server import i18n
from core_server.archive import Archive
from core_server.auth import User, record_audit
from core_server.settings import Settings
from core_server.web.security import bearer, current_user, require, require_page
from core_server.web.templating import render
from core_server.web.viewer import VIEW_ROLES
from core_server.web.viewer.bundle import OHIF_VERSION, default_root, installed

log = logging.getLogger(__name__)

PREFIX = "/viewer"
# A patient may have hundreds of studies; OHIF loads the metadata of every study it is given.
LAUNCH_MAX_STUDIES = 20
INSTALL_COMMAND = "make viewer   (or: .venv/bin/python scripts/fetch_ohif.py)"

# Cornerstone uses SharedArrayBuffer when the page is cross-origin isolated. The CSP keeps
# the viewer from reaching any other server (fonts, analytics, CDNs) and from being framed by
# another site; 'unsafe-eval' and 'wasm-unsafe-eval' are for the codecs' WebAssembly and
# libraries that compile functions, 'unsafe-inline' for index.html's inline bootstrap.
SECURITY_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline' 'unsafe-eval' 'wasm-unsafe-eval' blob:",
            "worker-src 'self' blob:",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self' data: blob:",
            "media-src 'self' data: blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        )
    ),
}
# Webpack names its chunks and WebAssembly by content hash: those never change.
_HASHED = re.compile(r"(^|[./])[0-9a-f]{16}\.(js|wasm)$")
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".jsonc": "application/json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".xml": "application/xml",
}
# A missing file of these kinds is a 404, not the app's index page (which as a script or
# stylesheet would fail in a confusing way).
_ASSET_SUFFIXES = frozenset(_MEDIA_TYPES) - {".html"} | {".map", ".gz", ".txt", ".jpg", ".onnx"}
# Launch look-ups name one accession or patient: matching wildcards are not allowed.
_WILDCARDS = re.compile(r"[*?\\]")
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


_page_user = require_page(*VIEW_ROLES)
_file_user = require(*VIEW_ROLES)


def bundle_dir(settings: Settings) -> Path:
    return settings.viewer_dir or default_root() / OHIF_VERSION


def app_config(brand: str) -> str:
    """``window.config`` for OHIF: one DICOMweb data source, this server, relative URLs;
    ``brand`` (the appliance's name, linking home) replaces OHIF's logo in its header."""
    data_source = {
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
        "sourceName": "dicomweb",
        "configuration": {
            "friendlyName": "PACS",
            "name": "pacs",
            "qidoRoot": "/dicom-web",
            "wadoRoot": "/dicom-web",
            "wadoUriRoot": "/wado",
            "qidoSupportsIncludeField": False,
            "imageRendering": "wadors",
            "thumbnailRendering": "wadors",
            "enableStudyLazyLoad": True,
            "supportsFuzzyMatching": False,
            "supportsWildcard": True,
            "staticWado": False,
            "singlepart": "bulkdata,video",
            "bulkDataURI": {"enabled": True, "relativeResolution": "studies"},
            "omitQuotationForMultipartRequest": True,
        },
    }
    config = {
        "routerBasename": PREFIX,
        "extensions": [],
        "modes": [],
        # No onboarding tour popping over the first image of every new workstation.
        "customizationService": {"ohif.tours": {"$set": []}},
        "showStudyList": True,
        "maxNumberOfWebWorkers": 3,
        "showCPUFallbackMessage": True,
        "showLoadingIndicator": True,
        "strictZSpacingForVolumeViewport": True,
        "groupEnabledModesFirst": True,
        # The hospital decides on clinical use (see docs/viewer.md); no banner per session.
        "investigationalUseDialog": {"option": "never"},
        "maxNumRequests": {"interaction": 100, "thumbnail": 5, "prefetch": 25},
        "showErrorDetails": "production",
        "defaultDataSourceName": "dicomweb",
        "dataSources": [data_source],
    }
    # The appliance's name, a link back to its own pages (the study list for most roles).
    logo = (
        "function (React) {\n"
        "  return React.createElement('a', {href: '/', className: 'text-primary-light text-lg',\n"
        "    onClick: function (event) { event.stopPropagation(); }},\n"
        f"    {json.dumps(brand, ensure_ascii=False)});\n"
        "}"
    )
    body = json.dumps(config, indent=2, ensure_ascii=False)
    return (
        "// Generated by the core server (core_server/web/viewer.py); not a file on disk.\n"
        f"window.config = {body};\n"
        f"window.config.whiteLabeling = {{createLogoComponentFn: {logo}}};\n"
    )


# When the session has ended (signed out elsewhere, expired, idle too long) OHIF's requests get
# 401: its QIDO/metadata errors reach config.httpErrorHandler, but an image loader's do not and
# the viewport just stays black. This script, loaded first by index.html, watches every
# request and sends the user to sign in, then back to the same view.
SESSION_GUARD = """// Generated by the core server (core_server/web/viewer.py); not a file on disk.
(function () {
  var leaving = false;
  function signIn() {
    if (leaving) { return; }
    leaving = true;
    window.location.assign('/login?next=' +
      encodeURIComponent(window.location.pathname + window.location.search));
  }
  var send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function () {
    this.addEventListener('load', function () { if (this.status === 401) { signIn(); } });
    return send.apply(this, arguments);
  };
  var originalFetch = window.fetch;
  window.fetch = function () {
    return originalFetch.apply(this, arguments).then(function (response) {
      if (response.status === 401) { signIn(); }
      return response;
    });
  };
})();
"""
_GUARD_TAG = f'<script src="{PREFIX}/session-guard.js"></script>'


class _Bundle:
    """The installed OHIF files. Until they are installed every look-up checks again, so
    installing them needs no restart."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self._ready = installed(self.directory)

    @property
    def ready(self) -> bool:
        self._ready = self._ready or installed(self.directory)
        return self._ready

    def file(self, path: str) -> Path | None:
        """The bundle's file at ``path``, if there is one (never outside the bundle, never a
        hidden file such as the install stamp)."""
        if not path or any(part.startswith(".") for part in path.split("/")) or not self.ready:
            return None
        candidate = (self.directory / path).resolve()
        if candidate.is_relative_to(self.directory) and candidate.is_file():
            return candidate
        return None


def create_router(settings: Settings) -> APIRouter:
    """The ``/viewer`` routes, serving the bundle configured in ``settings``."""
    bundle = _Bundle(bundle_dir(settings))
    if bundle.ready:
        log.info("OHIF viewer %s served at %s from %s", OHIF_VERSION, PREFIX, bundle.directory)
    else:
        log.warning(
            "OHIF viewer not installed in %s: %s says so to users; install it with %s",
            bundle.directory,
            PREFIX,
            INSTALL_COMMAND,
        )
    router = APIRouter(prefix=PREFIX, tags=["viewer"], include_in_schema=False)

    def viewer_user(request: Request, token: Annotated[str | None, Depends(bearer)]) -> User:
        """Pages send an anonymous browser to sign in; files and scripts answer 401."""
        path = request.path_params.get("path", "")
        if bundle.file(path) is not None or _is_asset_name(path):
            return _file_user(request, current_user(request, token))
        return _page_user(request, token)

    viewer_user.roles = VIEW_ROLES  # type: ignore[attr-defined]  # read by the route-table test

    def index(request: Request) -> Response:
        if not bundle.ready:
            return _not_installed(request, bundle.directory)
        page = (bundle.directory / "index.html").read_text(encoding="utf-8")
        page = page.replace("<head>", f"<head>{_GUARD_TAG}", 1)  # before OHIF's scripts
        # The page's language as the appliance's (OHIF's build says "en"; a browser would
        # offer to translate a Chinese screen "from English").
        lang = i18n.HTML_LANG[i18n.language(request.cookies)]
        page = page.replace('<html lang="en">', f'<html lang="{lang}">', 1)
        response = Response(page, media_type=_MEDIA_TYPES[".html"])
        # OHIF picks its language from this cookie first: follow the appliance's language.
        response.set_cookie(
            "i18next", _ohif_language(request), path=PREFIX, samesite="lax", max_age=86400 * 365
        )
        return _finish(response, cache="no-cache")

    @router.get("")
    def viewer_home(request: Request, _user: Annotated[User, Depends(viewer_user)]) -> Response:
        """``/viewer?StudyInstanceUIDs=...`` opens those studies; bare, OHIF's study list."""
        if request.query_params.get("StudyInstanceUIDs"):
            return RedirectResponse(f"{PREFIX}/viewer?{request.url.query}", status_code=303)
        return index(request)

    @router.get("/launch")
    def launch(
        request: Request,
        user: Annotated[User, Depends(_page_user)],
        accession_number: Annotated[str, Query(alias="AccessionNumber")] = "",
        patient_id: Annotated[str, Query(alias="PatientID")] = "",
        issuer_of_patient_id: Annotated[str, Query(alias="IssuerOfPatientID")] = "",
        study_instance_uids: Annotated[str, Query(alias="StudyInstanceUIDs")] = "",
    ) -> Response:
        """Finds the studies of one accession or patient (newest first) and opens them."""
        lookup = {
            key: value.strip()
            for key, value in (
                ("AccessionNumber", accession_number),
                ("PatientID", patient_id),
                ("IssuerOfPatientID", issuer_of_patient_id),
            )
            if value.strip()
        }
        uids = [u.strip() for u in study_instance_uids.split(",") if u.strip()]
        problem = _launch_problem(lookup, uids)
        if problem:
            return _message_page(request, "launch_bad_request", problem, status_code=400)
        if not uids:
            archive: Archive = request.app.state.ctx.archive
            studies = list(archive.find("STUDY", lookup))
            studies.sort(key=lambda s: (s.get("StudyDate") or "", s.get("StudyTime") or ""))
            uids = [s["StudyInstanceUID"] for s in reversed(studies)][:LAUNCH_MAX_STUDIES]
            if not uids:
                wanted = ", ".join(f"{k}={v}" for k, v in lookup.items())
                return _message_page(request, "launch_not_found", wanted, status_code=404)
        record_audit(
            request.app.state.ctx.engine,
            username=user.username,
            action="viewer.launch",
            target=lookup.get("AccessionNumber") or lookup.get("PatientID") or uids[0],
            detail={"lookup": lookup, "studies": uids},
            address=request.client.host if request.client else "",
        )
        query = urlencode({"StudyInstanceUIDs": ",".join(uids)}, safe=",")
        return RedirectResponse(f"{PREFIX}/viewer?{query}", status_code=303)

    @router.get("/{path:path}")
    def bundle_file(
        request: Request, path: str, _user: Annotated[User, Depends(viewer_user)]
    ) -> Response:
        """A file of the bundle (or a generated script); any other path is a route of the
        app: index.html."""
        if path == "app-config.js":
            script = Response(app_config(_brand(request)), media_type=_MEDIA_TYPES[".js"])
            return _finish(script, cache="no-cache")
        if path == "session-guard.js":
            return _finish(Response(SESSION_GUARD, media_type=_MEDIA_TYPES[".js"]), "no-cache")
        found = bundle.file(path)
        if found is None:
            if _is_asset_name(path):
                return _finish(Response("not found", status_code=404, media_type="text/plain"))
            return index(request)
        if found.name == "index.html":
            return index(request)
        return _file_response(request, found)

    return router


def _is_asset_name(path: str) -> bool:
    """Names a file rather than a route of the app (hidden files included)."""
    name = path.rsplit("/", 1)[-1]
    return name.startswith(".") or Path(name).suffix.lower() in _ASSET_SUFFIXES


def _file_response(request: Request, path: Path) -> Response:
    media_type = _MEDIA_TYPES.get(path.suffix.lower())
    cache = "max-age=31536000, immutable" if _HASHED.search(path.name) else "no-cache"
    compressed = path.with_name(path.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "") and compressed.is_file():
        response = FileResponse(
            compressed,
            media_type=media_type,
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    else:
        response = FileResponse(path, media_type=media_type, headers={"Vary": "Accept-Encoding"})
    return _finish(response, cache=cache)


def _finish(response: Response, cache: str = "no-store") -> Response:
    """Security headers on every viewer response; ``private``: they are behind sign-in."""
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = f"private, {cache}"
    return response


def _launch_problem(lookup: dict[str, str], uids: list[str]) -> str:
    if not lookup and not uids:
        return "AccessionNumber, PatientID or StudyInstanceUIDs"
    if set(lookup) == {"IssuerOfPatientID"}:
        return "IssuerOfPatientID needs PatientID"
    for key, value in lookup.items():
        if _WILDCARDS.search(value) or len(value) > 64:
            return f"{key}={value!r}"
    for uid in uids:
        if not _UID.match(uid) or len(uid) > 64:
            return f"StudyInstanceUIDs={uid!r}"
    return ""


def _brand(request: Request) -> str:
    """The name the appliance's own pages show in their header."""
    name = str(request.app.state.ctx.settings.hospital_name)
    return name or i18n.translate(i18n.language(request.cookies), "web.product_name")


def _ohif_language(request: Request) -> str:
    """OHIF's name for the appliance's language (its Chinese locale is "zh")."""
    return "en-US" if i18n.language(request.cookies) == "en" else "zh"


def _message_page(request: Request, key: str, detail: str, status_code: int) -> Response:
    lang = i18n.language(request.cookies)
    context = {
        "title": i18n.translate(lang, f"viewer.{key}_title"),
        "message": i18n.translate(lang, f"viewer.{key}"),
        "detail": detail,
    }
    return render(request, "viewer/message.html", context, status_code=status_code)


def _not_installed(request: Request, bundle: Path) -> Response:
    return _message_page(
        request, "not_installed", f"{INSTALL_COMMAND}  ->  {bundle}", status_code=503
    )
