"""A QIDO-RS request's query parameters (PS3.18 8.3.4), read and checked: matching keys as
keywords or tags, ``includefield``, ``limit``/``offset``, ``fuzzymatching``. A value that its
VR does not allow (``StudyDate=2026-11``, ``SeriesNumber=abc``) is a 400 with the reason, not a
search that silently finds nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import HTTPException, Request
from pydicom.datadict import keyword_for_tag

from core_server.archive import ATTRIBUTES, DERIVED, Level
from core_server.dicomweb.dicom_json import tag_of

_DEPTH = {Level.STUDY: 1, Level.SERIES: 2, Level.IMAGE: 3}
LEVEL_DEPTH = {Level.PATIENT: 0, **_DEPTH}
_LARGEST = 2**31 - 1  # limit and offset: what every database takes as an integer

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
_TIME = re.compile(r"(\d\d)(?:(\d\d)(?:(\d\d)(?:\.\d{1,6})?)?)?")
_INTEGER = re.compile(r"[+-]?\d{1,12}")


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
    params = request.query_params
    search.limit = _number(params.get("limit"), "limit")
    search.offset = _number(params.get("offset"), "offset") or 0
    fuzzy = params.get("fuzzymatching", "false").lower()
    if fuzzy not in ("true", "false"):
        raise HTTPException(400, "fuzzymatching must be true or false")
    search.fuzzy = fuzzy == "true"
    _matching_keys(search, request, fixed)
    search.returned = _returned_keys(search, request, fixed)
    for keyword in search.returned:
        if keyword in DERIVED:
            search.keys.setdefault(keyword, "")  # asks the archive to compute it
    return search


def _matching_keys(search: Search, request: Request, fixed: dict[str, str]) -> None:
    depth = _DEPTH[search.level]
    for name, value in request.query_params.multi_items():
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
            check_value(keyword, value)
            search.keys[keyword] = value
        else:
            search.warnings.append(f"matching on {keyword} is not supported and was ignored")


def _returned_keys(search: Search, request: Request, fixed: dict[str, str]) -> list[str]:
    depth = _DEPTH[search.level]
    returned: list[str] = []
    for parent, uid_key in ((Level.STUDY, "StudyInstanceUID"), (Level.SERIES, "SeriesInstanceUID")):
        if _DEPTH[parent] < depth and uid_key not in fixed:
            returned += DEFAULT_KEYS[parent]  # not nested: the parents' attributes come too
    returned += DEFAULT_KEYS[search.level]
    returned += [
        k
        for k in ("StudyInstanceUID", "SeriesInstanceUID")
        if LEVEL_DEPTH[ATTRIBUTES[k].level] <= depth
    ]
    for name in _include_fields(request):
        if name == "all":
            returned += [k for k, a in ATTRIBUTES.items() if LEVEL_DEPTH[a.level] <= depth]
            returned += [k for k, lv in DERIVED.items() if 0 < LEVEL_DEPTH[lv] <= depth]
            continue
        tag = tag_of(name)
        keyword = keyword_for_tag(tag) if tag is not None else None
        if tag is None or not keyword:
            raise HTTPException(400, f"unknown attribute {name!r} in includefield")
        if _indexed(keyword, depth):
            returned.append(keyword)
        else:
            search.from_file.append(tag)
    return list(dict.fromkeys(returned))


def _matchable(keyword: str, depth: int) -> bool:
    """Matched by the index at this depth. ModalitiesInStudy is a study-level key: at the series
    and instance levels it selects the entities of the studies that have such a series."""
    indexed = ATTRIBUTES.get(keyword)
    if indexed is not None:
        return bool(indexed.match) and LEVEL_DEPTH[indexed.level] <= depth
    return keyword == "ModalitiesInStudy"


def _indexed(keyword: str, depth: int) -> bool:
    """Answered by the index (stored or derived) at this query's depth."""
    if keyword in ATTRIBUTES:
        return LEVEL_DEPTH[ATTRIBUTES[keyword].level] <= depth
    return keyword in DERIVED and 0 < LEVEL_DEPTH[DERIVED[keyword]] <= depth


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
    if number > _LARGEST:
        raise HTTPException(400, f"{name} must be at most {_LARGEST}")
    return number


def check_value(keyword: str, value: str) -> None:
    """A matching value its VR allows (PS3.4 C.2.2.2): dates and times as single values or
    ranges (``20260101``, ``20260101-20260131``, ``-0800``), whole numbers for IS keys."""
    attribute = ATTRIBUTES.get(keyword)
    kind = attribute.match if attribute is not None else ""
    value = value.strip()
    if value in ("", "*") or kind not in ("date", "time", "int"):
        return
    if kind == "int":
        if not _INTEGER.fullmatch(value):
            raise HTTPException(400, f"{keyword} must be a whole number, not {value!r}")
        return
    valid = _date if kind == "date" else _time
    low, dash, high = value.partition("-")
    ends = [e.strip() for e in (low, high) if e.strip()] if dash else [value]
    if not ends or not all(valid(end) for end in ends):
        form = "YYYYMMDD" if kind == "date" else "HHMMSS.FFFFFF (HH, HHMM... also)"
        raise HTTPException(
            400,
            f"{keyword}={value!r} is not a {'date' if kind == 'date' else 'time'} or a range "
            f"of them: use {form}, or a range A-B, A- or -B",
        )


def _date(text: str) -> bool:
    if len(text) != 8 or not text.isdigit():
        return False
    try:
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return False
    return True


def _time(text: str) -> bool:
    match = _TIME.fullmatch(text)
    if match is None:
        return False
    hour, minute, second = (int(g) if g else 0 for g in match.groups())
    return hour <= 23 and minute <= 59 and second <= 60  # 60: a leap second
