"""QIDO-RS (PS3.18 10.6): searching studies, series and instances with the archive's own
matching (the one C-FIND uses), answered in the DICOM JSON model or, asked for
``multipart/related; type="application/dicom+xml"``, in the PS3.19 XML model. The query
parameters are read in :mod:`core_server.dicomweb.qido_params`."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from core_server import auth
from core_server.archive import Archive, Level, QueryError
from core_server.dicomweb.access import archive_of, audit, audit_query, may_search
from core_server.dicomweb.dicom_json import (
    absolute_bulk_uris,
    answer_json,
    attribute,
    dataset_json,
    dictionary_vr,
    dumps,
)
from core_server.dicomweb.instances import header
from core_server.dicomweb.qido_params import Search, parse_search
from core_server.dicomweb.replies import accepted_media, datasets, service_root, warning_header

log = logging.getLogger(__name__)
router = APIRouter()
Searcher = Annotated[auth.User, Depends(may_search)]

MAX_RESULTS = 1000  # answers given to a search without a limit (a Warning says when cut)


def run_search(request: Request, search: Search) -> Response:
    """The answers in the accepted representation; none is a 204 (PS3.18 8.3.4.4.1)."""
    media = accepted_media(request)
    archive = archive_of(request)
    limit = search.limit if search.limit is not None else MAX_RESULTS
    try:
        answers = list(
            archive.find(
                search.level,
                search.keys,
                limit=limit + 1,
                offset=search.offset,
                fuzzy=search.fuzzy,
            )
        )
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from None
    if len(answers) > limit:
        answers = answers[:limit]
        if search.limit is None:
            search.warnings.append(
                f"more than {MAX_RESULTS} matches: the first {MAX_RESULTS} are returned; "
                "use limit and offset, or narrow the search"
            )
    root = service_root(request)
    items = [_answer(archive, search, answer, root) for answer in answers]
    headers = warning_header(request, search.warnings)
    return datasets(media, items, headers=headers, empty_status=204)


def _answer(archive: Archive, search: Search, answer: dict[str, Any], root: str) -> dict[str, Any]:
    url = f"{root}studies/{answer['StudyInstanceUID']}"
    if search.level in (Level.SERIES, Level.IMAGE):
        url += f"/series/{answer['SeriesInstanceUID']}"
    if search.level is Level.IMAGE:
        url += f"/instances/{answer['SOPInstanceUID']}"
    out = answer_json(answer, search.returned, url)
    out["00080056"] = attribute("CS", "ONLINE")  # InstanceAvailability
    if search.from_file:
        out.update(_from_file(archive, search, answer, root))
    return dict(sorted(out.items()))


def _from_file(
    archive: Archive, search: Search, answer: dict[str, Any], root: str
) -> dict[str, Any]:
    """Requested attributes the index does not hold, read from one of the entity's instances
    (for a study or series, its first)."""
    path, sop = answer.get("_path"), str(answer.get("SOPInstanceUID") or "")
    if path is None:
        level_key = "SeriesInstanceUID" if search.level is Level.SERIES else "StudyInstanceUID"
        first = next(archive.find(Level.IMAGE, {level_key: answer[level_key]}, limit=1), None)
        if first is None:
            return {}
        path, sop = first["_path"], first["SOPInstanceUID"]
    try:
        ds = header(archive.online_file(sop, path))  # recalled if it was moved off online
        prefix = (
            f"studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
            f"/instances/{ds.SOPInstanceUID}"
        )
        full = dataset_json(ds, prefix)
    except Exception:
        log.warning("cannot read %s for includefield", path, exc_info=True)
        return {}
    out = {}
    for tag in search.from_file:
        key = f"{tag:08X}"
        out[key] = full.get(key, {"vr": dictionary_vr(tag)})
    # Bulk data (an includefield of an icon, say) is named by its absolute URI, as in metadata.
    absolute: dict[str, Any] = json.loads(absolute_bulk_uris(dumps(out), root))
    return absolute


@router.get("/studies", summary="QIDO-RS: search for studies")
def search_studies(request: Request, user: Searcher) -> Response:
    search = parse_search(request, Level.STUDY, {})
    audit_query(request, user, search.level.value, search.keys)
    return run_search(request, search)


@router.get("/series", summary="QIDO-RS: search for series")
def search_series(request: Request, user: Searcher) -> Response:
    search = parse_search(request, Level.SERIES, {})
    audit_query(request, user, search.level.value, search.keys)
    return run_search(request, search)


@router.get("/instances", summary="QIDO-RS: search for instances")
def search_instances(request: Request, user: Searcher) -> Response:
    search = parse_search(request, Level.IMAGE, {})
    audit_query(request, user, search.level.value, search.keys)
    return run_search(request, search)


@router.get("/studies/{study}/series", summary="QIDO-RS: search for a study's series")
def search_study_series(request: Request, study: str, user: Searcher) -> Response:
    response = run_search(request, parse_search(request, Level.SERIES, {"StudyInstanceUID": study}))
    audit(request, user, "dicomweb.study_viewed", {study})
    return response


@router.get("/studies/{study}/instances", summary="QIDO-RS: search for a study's instances")
def search_study_instances(request: Request, study: str, _user: Searcher) -> Response:
    return run_search(request, parse_search(request, Level.IMAGE, {"StudyInstanceUID": study}))


@router.get(
    "/studies/{study}/series/{series}/instances",
    summary="QIDO-RS: search for a series' instances",
)
def search_series_instances(request: Request, study: str, series: str, _user: Searcher) -> Response:
    fixed = {"StudyInstanceUID": study, "SeriesInstanceUID": series}
    return run_search(request, parse_search(request, Level.IMAGE, fixed))
