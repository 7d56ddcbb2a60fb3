"""Modality Worklist SCP (C-FIND on the MWL information model): translates the query into
RIS matching keys and the RIS's scheduled procedure steps into answer data sets.

Names go out as the alphabetic and ideographic groups (``ZHANG^SAN=张^三``) in the query's
Specific Character Set when it can carry them (GB18030, GBK, ISO_IR 192...), else in UTF-8;
a modality registered as ASCII-only gets the pinyin group alone and no character set, which
is what consoles without Chinese fonts need.

Answers are :class:`~core_server.dicom.answers.Answer` element lists (sequences as lists of
items), which the direct path encodes without pydicom (a pydicom data set built element by
element and written by pydicom cost about 0.5 ms per answer); pynetdicom's path makes them
data sets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue

from core_server.dicom.answers import Answer
from core_server.dicom.charsets import answer_charset, requested
from core_server.ris import Ris, RisError

log = logging.getLogger(__name__)

SUCCESS, PENDING, CANCEL = 0x0000, 0xFF00, 0xFE00
IDENTIFIER_DOES_NOT_MATCH, UNABLE_TO_PROCESS = 0xA900, 0xC001
STEP = "ScheduledProcedureStepSequence"

Reply = tuple[int | Dataset, Answer | None]
Element = tuple[int, str, Any]


def query_keys(identifier: Dataset) -> dict[str, str]:
    """The query's matching keys, flat: the Scheduled Procedure Step item's beside the top
    level ones (the RIS matches on both)."""
    keys = _flat(identifier)
    for item in identifier.get(STEP) or []:
        keys |= _flat(item)
        break
    return keys


def _flat(ds: Dataset) -> dict[str, str]:
    keys: dict[str, str] = {}
    for element in ds:
        if not element.keyword or element.VR == "SQ" or element.keyword == "SpecificCharacterSet":
            continue
        value = element.value
        if value is None:
            keys[element.keyword] = ""
        elif isinstance(value, MultiValue | list):
            keys[element.keyword] = "\\".join(str(v) for v in value)
        else:
            keys[element.keyword] = str(value)
    return keys


def find(
    ris: Ris, identifier: Dataset, *, ascii_only: bool, cancelled: Callable[[], bool]
) -> Iterator[Reply]:
    terms = requested(identifier)
    try:
        items = list(ris.worklist(query_keys(identifier)))
    except RisError as exc:
        yield _status(IDENTIFIER_DOES_NOT_MATCH, str(exc)), None
        return
    except Exception as exc:
        log.exception("worklist query failed")
        yield _status(UNABLE_TO_PROCESS, f"worklist unavailable: {exc}"), None
        return
    # The query's return keys, read from pydicom once per query, not once per answer.
    fields = _fields(identifier)
    for item in items:
        if cancelled():
            yield CANCEL, None
            return
        values = item.ascii_attributes if ascii_only else item.attributes
        yield PENDING, answer(fields, values, terms, ascii_only=ascii_only)
    yield SUCCESS, None


# A return key: (tag, VR, keyword, the keys of the answer's items for a sequence: None when
# the query's item is empty or absent, which asks for every key the RIS gives).
Field = tuple[int, str, str, "list[Field] | None"]


def _fields(query: Dataset) -> list[Field]:
    fields: list[Field] = []
    for element in query:
        keyword = element.keyword
        if not keyword or keyword == "SpecificCharacterSet":
            continue
        vr = _vr(element)
        asked = None
        if vr == "SQ" and element.value and len(element.value[0]):
            asked = _fields(element.value[0])
        fields.append((int(element.tag), vr, keyword, asked))
    return fields


def answer(
    fields: list[Field], attributes: dict[str, Any], terms: list[str], *, ascii_only: bool
) -> Answer:
    """The answer to the query whose return keys are ``fields``, from the RIS's values."""
    values = dict(attributes)
    if ascii_only:
        values["PatientName"] = str(values.get("PatientName", "")).split("=")[0]
    texts: list[str] = []
    found = Answer(elements=_fill(fields, values, texts))
    if ascii_only:
        return found
    distinct = set(texts)  # a name or description recurs in an answer: checked once
    charset = answer_charset(terms, distinct)
    if charset and any(not t.isascii() for t in distinct):
        found.charset = charset
    elif terms:
        found.charset = terms
    return found


def _fill(fields: list[Field], values: dict[str, Any], texts: list[str]) -> list[Element]:
    """The return keys valued from ``values`` (sequences from lists of dicts); the text
    values go into ``texts`` (they decide the character set)."""
    elements: list[Element] = []
    for tag, vr, keyword, asked in fields:
        have = values.get(keyword)
        if vr == "SQ":
            sources = have if isinstance(have, list) else []
            items = [
                _fill(asked, source, texts) if asked else _all(source, texts) for source in sources
            ]
            elements.append((tag, "SQ", items))
        else:
            value = _value(have)
            if isinstance(value, str):
                texts.append(value)
            elements.append((tag, vr, value))
    return elements


def _all(source: dict[str, Any], texts: list[str]) -> list[Element]:
    """Every (non-sequence) key of ``source``: the answer to an empty query item."""
    elements: list[Element] = []
    for keyword, have in source.items():
        tag = tag_for_keyword(keyword)
        if isinstance(have, list) or tag is None:
            continue
        value = _value(have)
        if isinstance(value, str):
            texts.append(value)
        elements.append((tag, str(dictionary_VR(tag)), value))
    return elements


def _value(value: Any) -> Any:
    if value is None or value == "":
        return None
    return value


def _vr(element: DataElement) -> str:
    try:
        return str(dictionary_VR(element.tag))
    except KeyError:
        return str(element.VR)


def _status(code: int, comment: str) -> Dataset:
    status = Dataset()
    status.Status = code
    status.ErrorComment = comment[:64]
    return status
