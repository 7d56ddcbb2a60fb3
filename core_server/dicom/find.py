"""C-FIND (Patient and Study Root query/retrieve) answered from the archive's index, and the
query keys a C-GET or C-MOVE names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue

from core_server.archive import Archive, QueryError
from core_server.dicom.answers import Answer
from core_server.dicom.charsets import answer_charset, requested
from core_server.dicom.handlers import (
    CANCEL,
    IDENTIFIER_DOES_NOT_MATCH,
    PENDING,
    SUCCESS,
    Status,
    status,
)

_QUERY_RETRIEVE_LEVEL, _RETRIEVE_AE_TITLE = 0x00080052, 0x00080054
_NOT_ANSWERED = ("SpecificCharacterSet", "QueryRetrieveLevel", "RetrieveAETitle")


def find(
    archive: Archive, ae_title: str, identifier: Dataset, cancelled: Callable[[], bool]
) -> Iterator[tuple[Status, Answer | None]]:
    """The answers to a query; ``ae_title``: ours, where the answers say they are retrieved."""
    # One pass over the identifier (pydicom converts each element as it is read): what each
    # answer returns, looked up once per query rather than once per answer, and the keys.
    fields, keys = [], {}
    for element in identifier:
        fields.append((int(element.tag), element.keyword, _vr(element)))
        if element.keyword and element.VR != "SQ":
            keys[element.keyword] = _key_text(element.value)
    level = keys.get("QueryRetrieveLevel", "").strip()
    terms = requested(identifier)
    try:
        for found in archive.find(level, keys):
            if cancelled():
                yield CANCEL, None
                return
            yield PENDING, _answer(fields, found, terms, ae_title)
    except QueryError as exc:
        yield status(IDENTIFIER_DOES_NOT_MATCH, str(exc)), None
        return
    yield SUCCESS, None


def _answer(
    fields: list[tuple[int, str, str]], found: dict[str, Any], terms: list[str], ae_title: str
) -> Answer:
    """The answer: ``fields`` are the query's (tag, keyword, VR)."""
    # Only the values the answer carries decide its character set: the index holds more
    # (every name of the level), which the query may not have asked for.
    texts = {v for _, k, _ in fields if isinstance(v := found.get(k), str)}
    answer = Answer(charset=answer_charset(terms, texts))
    for tag, keyword, vr in fields:
        if keyword in _NOT_ANSWERED:
            continue
        if keyword in found:
            value = _dicom_value(found[keyword], vr)
        elif keyword == "InstanceAvailability":
            value = "ONLINE"
        else:
            value = None
        answer.elements.append((tag, vr, value))
    answer.elements.append((_QUERY_RETRIEVE_LEVEL, "CS", found["QueryRetrieveLevel"]))
    answer.elements.append((_RETRIEVE_AE_TITLE, "AE", ae_title))
    return answer


def query_keys(identifier: Dataset) -> dict[str, str]:
    """The identifier's keys as text, the archive's query form (sequences left out)."""
    return {
        element.keyword: _key_text(element.value)
        for element in identifier
        if element.keyword and element.VR != "SQ"
    }


def _vr(element: DataElement) -> str:
    try:
        return str(dictionary_VR(element.tag))
    except KeyError:
        return str(element.VR)


def _key_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, MultiValue | list):
        return "\\".join(str(v) for v in value)
    return str(value)


def _dicom_value(value: Any, vr: str) -> Any:
    if value is None or value == "":
        return None
    if vr in ("US", "UL", "SS", "SL"):
        return int(value)
    if isinstance(value, list):
        return value or None
    return str(value) if not isinstance(value, int) else value
