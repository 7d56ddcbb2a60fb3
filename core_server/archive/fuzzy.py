"""Fuzzy person-name matching (QIDO-RS ``fuzzymatching=true``), for the way Chinese names are
searched at a front desk: case, spaces and the ``^`` between family and given name never
matter, and a prefix is enough. Each name form of the query (``Zhang^San=张^三``) may match.

Patient names match on the index's keys only through prefixes that an index can serve:

- letters (``zs``, ``zhangs``, ``zhang san``, ``lv``): the pinyin initials or spelling keys
  (:mod:`core_server.pinyin`, made at ingest with the surname table), so a name sent
  in Chinese characters only is found by its pinyin (单雄信 by ``sxx`` or ``shanx``);
- Chinese characters (``张三``, ``张``): the stored groups with or without the ``^`` after a
  one- or two-character family name, and the spelling key (a name sent in pinyin only).

Other person names (the referring physician) have no pinyin keys: their stored groups are
compared with the ``^`` and spaces removed, and by initials, which needs a scan.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, func, or_, true

from core_server.pinyin import normalize_query, search_keys

_MAX_INITIALS = 4  # longer all-letter queries are full spellings, not initials
_NOT_TYPED = re.compile(r"[\s^*?\-'%_=\\]")


def fuzzy_name(
    keys: tuple[Any, ...], value: str, pinyin: tuple[Any, Any] | None = None
) -> ColumnElement[bool]:
    """Rows whose name (any of ``keys``, the upper-cased component groups, or the ``pinyin``
    (initials, spelling) key columns) matches ``value``."""
    conditions: list[ColumnElement[bool]] = []
    for form in value.split("="):
        text = _NOT_TYPED.sub("", form.upper())
        if not text:
            continue
        letters = text.isascii() and text.isalpha()
        if pinyin is not None:
            conditions += _indexed(keys, pinyin, text, letters)
        else:
            conditions += _scanned(keys, text, letters)
    return or_(*conditions) if conditions else true()


def _indexed(
    keys: tuple[Any, ...], pinyin: tuple[Any, Any], text: str, letters: bool
) -> list[ColumnElement[bool]]:
    initials, spelled = pinyin
    if letters:
        return [initials.like(text + "%"), spelled.like(normalize_query(text) + "%")]
    conditions = [key.like(pattern) for pattern in _caret_patterns(text) for key in keys]
    spelling = search_keys(text)[1]
    if spelling:
        conditions.append(spelled.like(spelling + "%"))
    return conditions


def _caret_patterns(text: str) -> list[str]:
    """``张三`` typed -> stored ``张三...``, ``张^三...`` or (a compound family name)
    ``欧阳^修...``."""
    return [text + "%"] + [f"{text[:cut]}^{text[cut:]}%" for cut in (1, 2) if cut < len(text)]


def _scanned(keys: tuple[Any, ...], text: str, letters: bool) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for key in keys:
        joined = func.replace(func.replace(key, "^", ""), " ", "")
        conditions.append(joined.like(text + "%"))
        if letters and 2 <= len(text) <= _MAX_INITIALS:
            conditions.extend(key.like(pattern) for pattern in _initials_patterns(text))
    return conditions


def _initials_patterns(letters: str) -> list[str]:
    """``WXM`` -> family name W, given name X..M (``W%^X%M%``), or family name WX (a compound
    surname such as OUYANG) and given name M (``W%X%^M%``)."""
    patterns = []
    for split in (1, 2):
        if split >= len(letters):
            break
        family, given = letters[:split], letters[split:]
        patterns.append("%".join(family) + "%^" + "%".join(given) + "%")
    return patterns
