"""Choosing and checking the Specific Character Set of an answer."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from pydicom.charset import convert_encodings

import core_server.iso_ir_58  # noqa: F401  (pydicom gets ISO 2022 IR 58 wrong without it)

UTF8 = "ISO_IR 192"


def requested(identifier: Any) -> list[str]:
    """The query's Specific Character Set as a list of defined terms ([] = default)."""
    value = identifier.get("SpecificCharacterSet")
    if not value:
        return []
    terms = [value] if isinstance(value, str) else list(value)
    return [str(v).strip() for v in terms]


def answer_charset(terms: list[str], values: Iterable[str]) -> list[str]:
    """Answer in the query's character set when it can carry every value, else UTF-8."""
    key = tuple(terms)
    if all(value.isascii() or _encodable(key, value) for value in values):
        return terms
    return [UTF8]


@lru_cache(maxsize=16384)
def _encodable(terms: tuple[str, ...], value: str) -> bool:
    # Cached: the same names and exam descriptions recur in every answer and every query.
    if value.isascii():
        return True
    codecs = _codecs(terms)
    return all(any(_char_fits(codec, ch) for codec in codecs) for ch in value if not ch.isascii())


@lru_cache(maxsize=64)
def _codecs(terms: tuple[str, ...]) -> tuple[str, ...]:
    if not any(terms):
        return ("ascii",)  # the default repertoire
    try:
        return tuple(convert_encodings(list(terms)))
    except LookupError:
        return ("ascii",)


@lru_cache(maxsize=65536)
def _char_fits(codec: str, ch: str) -> bool:
    try:
        ch.encode(codec)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
