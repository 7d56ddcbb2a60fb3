"""The OHIF viewer at ``/viewer``: its files, its configuration, and the launch URL.

OHIF is a single-page app: it is served from the installed bundle (``files.py``, installed by
``bundle.py``) on this origin, reads our DICOMweb (``/dicom-web``, ``/wado``) with the
browser's session cookie, and answers every unknown path under ``/viewer`` with
``index.html`` so its own router can show it. ``app-config.js`` and ``session-guard.js`` are
generated (``config.py``).

A HIS/EMR opens images with ``/viewer?StudyInstanceUIDs=...`` or looks them up with
``/viewer/launch?AccessionNumber=...`` / ``?PatientID=...``; both go through sign-in first.
"""

# No ``from __future__ import annotations`` here: FastAPI evaluates string annotations in
# module globals, and the routes' dependencies are closures over the router's bundle.
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from core_server import i18n
from core_server.archive import Archive
from core_server.auth import User, record_audit
from core_server.settings import Settings
from core_server.web.security import bearer, current_user, require, require_page
from core_server.web.templating import render
from core_server.web.viewer import VIEW_ROLES, config, files
from core_server.web.viewer.bundle import OHIF_VERSION
from core_server.web.viewer.config import PREFIX
from core_server.web.viewer.files import BundleFiles

log = logging.getLogger(__name__)

# A patient may have hundreds of studies; OHIF loads the metadata of every study it is given.
LAUNCH_MAX_STUDIES = 20
INSTALL_COMMAND = "make viewer   (or: .venv/bin/python scripts/fetch_ohif.py)"
# Launch look-ups name one accession or patient: matching wildcards are not allowed.
_WILDCARDS = re.compile(r"[*?\\]")
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# The look-up keys a launch link may carry, by their DICOM names (the query parameters).
_LOOKUP_KEYS = ("AccessionNumber", "PatientID", "IssuerOfPatientID")

_page_user = require_page(*VIEW_ROLES)
_file_user = require(*VIEW_ROLES)

ViewerUser = Callable[..., User]


def create_router(settings: Settings) -> APIRouter:
    """The ``/viewer`` routes, serving the bundle configured in ``settings``."""
    bundle = BundleFiles(files.bundle_dir(settings))
    _announce(bundle)
    viewer_user = _viewer_user(bundle)
    router = APIRouter(prefix=PREFIX, tags=["viewer"], include_in_schema=False)
    router.add_api_route("", _home_route(bundle, viewer_user), methods=["GET"])
    router.add_api_route("/launch", launch, methods=["GET"])
    router.add_api_route("/{path:path}", _file_route(bundle, viewer_user), methods=["GET"])
    return router


def _announce(bundle: BundleFiles) -> None:
    """Logs where the viewer is served from, or how to install it."""
    if bundle.ready:
        log.info("OHIF viewer %s served at %s from %s", OHIF_VERSION, PREFIX, bundle.directory)
    else:
        log.warning(
            "OHIF viewer not installed in %s: %s says so to users; install it with %s",
            bundle.directory,
            PREFIX,
            INSTALL_COMMAND,
        )


def _viewer_user(bundle: BundleFiles) -> ViewerUser:
    """Pages send an anonymous browser to sign in; files and scripts answer 401."""

    def viewer_user(request: Request, token: Annotated[str | None, Depends(bearer)]) -> User:
        path = request.path_params.get("path", "")
        if bundle.file(path) is not None or files.is_asset_name(path):
            return _file_user(request, current_user(request, token))
        return _page_user(request, token)

    viewer_user.roles = VIEW_ROLES  # type: ignore[attr-defined]  # read by the route-table test
    return viewer_user


def _home_route(bundle: BundleFiles, viewer_user: ViewerUser) -> Callable[..., Response]:
    def viewer_home(request: Request, _user: Annotated[User, Depends(viewer_user)]) -> Response:
        """``/viewer?StudyInstanceUIDs=...`` opens those studies; bare, OHIF's study list."""
        if request.query_params.get("StudyInstanceUIDs"):
            retrieving = _nearline(request)
            if retrieving:  # shown as "retrieving n/N" first (docs/storage-tiers.md)
                return RedirectResponse(retrieving, status_code=303)
            return RedirectResponse(f"{PREFIX}/viewer?{request.url.query}", status_code=303)
        return _index(request, bundle)

    return viewer_home


def _file_route(bundle: BundleFiles, viewer_user: ViewerUser) -> Callable[..., Response]:
    def bundle_file(
        request: Request, path: str, _user: Annotated[User, Depends(viewer_user)]
    ) -> Response:
        """A file of the bundle (or a generated script); any other path is a route of the
        app: index.html."""
        if path == "app-config.js":
            return files.script_response(_app_config(request))
        if path == "session-guard.js":
            return files.script_response(config.SESSION_GUARD)
        found = bundle.file(path)
        if found is None:
            return files.not_found() if files.is_asset_name(path) else _index(request, bundle)
        if found.name == "index.html":
            return _index(request, bundle)
        return files.file_response(request, found)

    return bundle_file


def _nearline(request: Request) -> str:
    """The retrieving page's address when a study named is not wholly online (its objects
    moved to another storage area), else ""; ``recall=no`` opens the viewer at once."""
    from core_server.archive import copies

    if request.query_params.get("recall") == "no":
        return ""
    studies = [u for u in request.query_params["StudyInstanceUIDs"].split(",") if u][:20]
    archive: Archive = request.app.state.ctx.archive
    if not copies.studies_not_online(archive.engine, studies):
        return ""
    return "/storage/retrieve?" + urlencode({"study": ",".join(studies)})


_GUARD_TAG = f'<script src="{PREFIX}/session-guard.js"></script>'


def _index(request: Request, bundle: BundleFiles) -> Response:
    """OHIF's index.html, with the session guard first and the appliance's language."""
    if not bundle.ready:
        return _not_installed(request, bundle.directory)
    page = bundle.index_html().replace("<head>", f"<head>{_GUARD_TAG}", 1)  # before OHIF's
    # The page's language as the appliance's (OHIF's build says "en"; a browser would
    # offer to translate a Chinese screen "from English").
    lang = i18n.language(request.cookies)
    page = page.replace('<html lang="en">', f'<html lang="{i18n.HTML_LANG[lang]}">', 1)
    response = Response(page, media_type=files.MEDIA_TYPES[".html"])
    # OHIF picks its language from this cookie first: follow the appliance's language.
    ohif_language = "en-US" if lang == "en" else "zh"  # OHIF's Chinese locale is "zh"
    response.set_cookie("i18next", ohif_language, path=PREFIX, samesite="lax", max_age=86400 * 365)
    return files.finish(response, cache="no-cache")


def _app_config(request: Request) -> str:
    settings: Settings = request.app.state.ctx.settings
    lang = i18n.language(request.cookies)
    hospital = str(settings.hospital_name)
    # The name the appliance's own pages show in their header.
    brand = hospital or i18n.translate(lang, "web.product_name")
    return config.app_config(brand, lang, hospital)


def launch(
    request: Request,
    user: Annotated[User, Depends(_page_user)],
    accession_number: Annotated[str, Query(alias="AccessionNumber")] = "",
    patient_id: Annotated[str, Query(alias="PatientID")] = "",
    issuer_of_patient_id: Annotated[str, Query(alias="IssuerOfPatientID")] = "",
    study_instance_uids: Annotated[str, Query(alias="StudyInstanceUIDs")] = "",
) -> Response:
    """Finds the studies of one accession or patient (newest first) and opens them."""
    values = zip(_LOOKUP_KEYS, (accession_number, patient_id, issuer_of_patient_id), strict=True)
    lookup = {key: value.strip() for key, value in values if value.strip()}
    uids = [u.strip() for u in study_instance_uids.split(",") if u.strip()]
    problem = _launch_problem(lookup, uids)
    if problem:
        return _message_page(request, "launch_bad_request", problem, status_code=400)
    if not uids:
        uids = _newest_studies(request.app.state.ctx.archive, lookup)
        if not uids:
            wanted = ", ".join(f"{k}={v}" for k, v in lookup.items())
            return _message_page(request, "launch_not_found", wanted, status_code=404)
    _audit_launch(request, user, lookup, uids)
    query = urlencode({"StudyInstanceUIDs": ",".join(uids)}, safe=",")
    return RedirectResponse(f"{PREFIX}/viewer?{query}", status_code=303)


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


def _newest_studies(archive: Archive, lookup: dict[str, str]) -> list[str]:
    """The matching studies' UIDs, newest first, at most LAUNCH_MAX_STUDIES."""
    studies: list[dict[str, Any]] = list(archive.find("STUDY", lookup))
    studies.sort(key=lambda s: (s.get("StudyDate") or "", s.get("StudyTime") or ""))
    return [s["StudyInstanceUID"] for s in reversed(studies)][:LAUNCH_MAX_STUDIES]


def _audit_launch(request: Request, user: User, lookup: dict[str, str], uids: list[str]) -> None:
    record_audit(
        request.app.state.ctx.engine,
        username=user.username,
        action="viewer.launch",
        target=lookup.get("AccessionNumber") or lookup.get("PatientID") or uids[0],
        detail={"lookup": lookup, "studies": uids},
        address=request.client.host if request.client else "",
    )


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
