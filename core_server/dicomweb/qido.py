"""QIDO-RS (PS3.18 10.6): searching studies, series and instances with the archive's own
matching (the one C-FIND uses), answered in the DICOM JSON model."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydicom.datadict import dictionary_VR, keyword_for_tag

from core_server import auth
from core_server.archive import ATTRIBUTES, DERIVED, Archive, Level, QueryError
from core_server.dicomweb.access import archive_of, audit, may_search
from core_server.dicomweb.dicom_json import answer_json, attribute, dataset_json, dumps, tag_of
from core_server.dicomweb.instances import header

log = logging.getLogger(__name__)
router = APIRouter()
Searcher = Annotated[auth.User, Depends(may_search)]

MAX_RESULTS = 1000  # answers given to a search without a limit (a Warning says when cut)
_DEPTH = {Level.STUDY: 1, Level.SERIES: 2, Level.IMAGE: 3}
_LEVEL_OF = {Level.PATIENT: 0, **_DEPTH}

# Returned by default (PS3.18 Table 6.7.1-2), plus what OHIF's lists show.
DEFAULT_KEYS = {
    Level.STUDY: [
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ModalitiesInStudy",
        "ReferringPhysicianName",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyID",
        "StudyDescription",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    ],
    Level.SERIES: [
        "Modality",
        "SeriesDescription",
        "SeriesInstanceUID",
        "SeriesNumber",
        "SeriesDate",
        "SeriesTime",
        "BodyPartExamined",
        "NumberOfSeriesRelatedInstances",
    ],
    Level.IMAGE: [
        "SOPClassUID",
        "SOPInstanceUID",
        "InstanceNumber",
        "Rows",
        "Columns",
        "NumberOfFrames",
    ],
}
_CONTROL = {"limit", "offset", "fuzzymatching", "includefield"}


@dataclass
class Search:
    level: Level
    keys: dict[str, str] = field(default_factory=dict)  # archive matching keys
    returned: list[str] = field(default_factory=list)  # keywords the index answers
    from_file: list[int] = field(default_factory=list)  # tags read from a stored instance
    limit: int | None = None
    offset: int = 0
    fuzzy: bool = False
    warnings: list[str] = field(default_factory=list)


def parse_search(request: Request, level: Level, fixed: dict[str, str]) -> Search:
    """The query parameters of a search (keys as keywords or tags), checked."""
    search = Search(level, dict(fixed))
    depth = _DEPTH[level]
    params = request.query_params
    search.limit = _number(params.get("limit"), "limit")
    search.offset = _number(params.get("offset"), "offset") or 0
    fuzzy = params.get("fuzzymatching", "false").lower()
    if fuzzy not in ("true", "false"):
        raise HTTPException(400, "fuzzymatching must be true or false")
    search.fuzzy = fuzzy == "true"
    for name, value in params.multi_items():
        if name in _CONTROL:
            continue
        if "." in name:
            search.warnings.append(f"matching within sequences is not supported: {name}")
            continue
        tag = tag_of(name)
        keyword = keyword_for_tag(tag) if tag is not None else None
        if not keyword:
            raise HTTPException(400, f"unknown attribute {name!r} in the query")
        if keyword in fixed:
            if value and value != fixed[keyword]:
                search.keys[keyword] = "\x00"  # contradicts the path: matches nothing
            continue
        if _matchable(keyword, depth):
            search.keys[keyword] = value
        else:
            search.warnings.append(f"matching on {keyword} is not supported and was ignored")
    returned: list[str] = []
    for parent, uid_key in ((Level.STUDY, "StudyInstanceUID"), (Level.SERIES, "SeriesInstanceUID")):
        if _DEPTH[parent] < depth and uid_key not in fixed:
            returned += DEFAULT_KEYS[parent]  # not nested: the parents' attributes come too
    returned += DEFAULT_KEYS[level]
    returned += [
        k
        for k in ("StudyInstanceUID", "SeriesInstanceUID")
        if _LEVEL_OF[ATTRIBUTES[k].level] <= depth
    ]
    for name in _include_fields(request):
        if name == "all":
            returned += [k for k, a in ATTRIBUTES.items() if _LEVEL_OF[a.level] <= depth]
            returned += [k for k, lv in DERIVED.items() if 0 < _LEVEL_OF[lv] <= depth]
            continue
        tag = tag_of(name)
        keyword = keyword_for_tag(tag) if tag is not None else None
        if tag is None or not keyword:
            raise HTTPException(400, f"unknown attribute {name!r} in includefield")
        if _indexed(keyword, depth):
            returned.append(keyword)
        else:
            search.from_file.append(tag)
    search.returned = list(dict.fromkeys(returned))
    for keyword in search.returned:
        if keyword in DERIVED:
            search.keys.setdefault(keyword, "")  # asks the archive to compute it
    return search


def _matchable(keyword: str, depth: int) -> bool:
    indexed = ATTRIBUTES.get(keyword)
    if indexed is not None:
        return bool(indexed.match) and _LEVEL_OF[indexed.level] <= depth
    return keyword == "ModalitiesInStudy"


def _indexed(keyword: str, depth: int) -> bool:
    """Answered by the index (stored or derived) at this query's depth."""
    if keyword in ATTRIBUTES:
        return _LEVEL_OF[ATTRIBUTES[keyword].level] <= depth
    return keyword in DERIVED and 0 < _LEVEL_OF[DERIVED[keyword]] <= depth


def _include_fields(request: Request) -> Iterator[str]:
    for value in request.query_params.getlist("includefield"):
        for name in value.split(","):
            if name.strip():
                yield name.strip()


def _number(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be a whole number") from None
    if number < 0:
        raise HTTPException(400, f"{name} must not be negative")
    return number


def run_search(request: Request, search: Search) -> Response:
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
    root = str(request.base_url).rstrip("/") + "/dicom-web/"
    body = [_answer(archive, search, answer, root) for answer in answers]
    headers = {}
    if search.warnings:
        host = request.url.netloc
        text = ", ".join(f'299 {host} "{w}"' for w in search.warnings)
        headers["Warning"] = text.encode("ascii", "backslashreplace").decode("ascii")
    return Response(dumps(body), media_type="application/dicom+json", headers=headers)


def _answer(archive: Archive, search: Search, answer: dict[str, Any], root: str) -> dict[str, Any]:
    url = f"{root}studies/{answer['StudyInstanceUID']}"
    if search.level in (Level.SERIES, Level.IMAGE):
        url += f"/series/{answer['SeriesInstanceUID']}"
    if search.level is Level.IMAGE:
        url += f"/instances/{answer['SOPInstanceUID']}"
    out = answer_json(answer, search.returned, url)
    out["00080056"] = attribute("CS", "ONLINE")  # InstanceAvailability
    if search.from_file:
        out.update(_from_file(archive, search, answer))
    return dict(sorted(out.items()))


def _from_file(archive: Archive, search: Search, answer: dict[str, Any]) -> dict[str, Any]:
    """Requested attributes the index does not hold, read from one of the entity's instances
    (for a study or series, its first)."""
    path = answer.get("_path")
    if path is None:
        level_key = "SeriesInstanceUID" if search.level is Level.SERIES else "StudyInstanceUID"
        first = next(archive.find(Level.IMAGE, {level_key: answer[level_key]}, limit=1), None)
        if first is None:
            return {}
        path = first["_path"]
    try:
        ds = header(archive.storage.absolute(path))
    except Exception:
        log.warning("cannot read %s for includefield", path, exc_info=True)
        return {}
    prefix = (
        f"studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
    )
    full = dataset_json(ds, prefix)
    out = {}
    for tag in search.from_file:
        key = f"{tag:08X}"
        out[key] = full.get(key, {"vr": dictionary_VR(tag)})
    return out


@router.get("/studies", summary="QIDO-RS: search for studies")
def search_studies(request: Request, _user: Searcher) -> Response:
    return run_search(request, parse_search(request, Level.STUDY, {}))


@router.get("/series", summary="QIDO-RS: search for series")
def search_series(request: Request, _user: Searcher) -> Response:
    return run_search(request, parse_search(request, Level.SERIES, {}))


@router.get("/instances", summary="QIDO-RS: search for instances")
def search_instances(request: Request, _user: Searcher) -> Response:
    return run_search(request, parse_search(request, Level.IMAGE, {}))


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
