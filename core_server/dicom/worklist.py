"""Modality Worklist SCP (C-FIND on the MWL information model): translates the query into
RIS matching keys and the RIS's scheduled procedure steps into answer data sets.

Names go out as the alphabetic and ideographic groups (``ZHANG^SAN=张^三``) in the query's
Specific Character Set when it can carry them (GB18030, GBK, ISO_IR 192...), else in UTF-8;
a modality registered as ASCII-only gets the pinyin group alone and no character set, which
is what consoles without Chinese fonts need.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from pydicom import Dataset
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from core_server.dicom.charsets import answer_charset, requested
from core_server.ris import Ris, RisError

log = logging.getLogger(__name__)

SUCCESS, PENDING, CANCEL = 0x0000, 0xFF00, 0xFE00
IDENTIFIER_DOES_NOT_MATCH, UNABLE_TO_PROCESS = 0xA900, 0xC001
STEP = "ScheduledProcedureStepSequence"

Answer = tuple[int | Dataset, Dataset | None]


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
) -> Iterator[Answer]:
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
    for item in items:
        if cancelled():
            yield CANCEL, None
            return
        values = item.ascii_attributes if ascii_only else item.attributes
        yield PENDING, answer(identifier, values, terms, ascii_only=ascii_only)
    yield SUCCESS, None


def answer(
    identifier: Dataset, attributes: dict[str, Any], terms: list[str], *, ascii_only: bool
) -> Dataset:
    values = dict(attributes)
    if ascii_only:
        values["PatientName"] = str(values.get("PatientName", "")).split("=")[0]
    ds = Dataset()
    _fill(ds, identifier, values)
    if ascii_only:
        return ds
    texts = [v for v in _texts(ds)]
    charset = answer_charset(terms, texts)
    if charset and any(not t.isascii() for t in texts):
        ds.SpecificCharacterSet = charset if len(charset) > 1 else charset[0]
    elif terms:
        ds.SpecificCharacterSet = terms if len(terms) > 1 else terms[0]
    # Move the character set to the front (pydicom writes in tag order anyway).
    return ds


def _fill(ds: Dataset, query: Dataset, values: dict[str, Any]) -> None:
    """The query's return keys, valued from ``values`` (sequences from lists of dicts: the
    query's item says which keys an answer item carries; an empty item asks for all)."""
    for element in query:
        keyword = element.keyword
        if not keyword or keyword == "SpecificCharacterSet":
            continue
        vr = _vr(element)
        have = values.get(keyword)
        if vr == "SQ":
            asked = element.value[0] if element.value else None
            items = have if isinstance(have, list) else []
            sequence = Sequence()
            for source in items:
                item = Dataset()
                if asked is not None and len(asked):
                    _fill(item, asked, source)
                else:
                    for key, value in source.items():
                        if not isinstance(value, list):
                            setattr(item, key, value or None)
                sequence.append(item)
            ds.add(DataElement(element.tag, "SQ", sequence))
        else:
            ds.add(DataElement(element.tag, vr, _value(have)))


def _texts(ds: Dataset) -> Iterator[str]:
    for element in ds:
        if element.VR == "SQ":
            for item in element.value:
                yield from _texts(item)
        elif isinstance(element.value, str):
            yield element.value
        elif element.VR == "PN" and element.value is not None:
            yield str(element.value)


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
