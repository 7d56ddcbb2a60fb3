"""Fuzzy person-name matching (QIDO-RS ``fuzzymatching=true``), for the way Chinese names are
searched at a front desk: a name typed without the ``^`` between family and given name
(``zhangsan``, ``张三``), a prefix of it (``zhangs``), the given name alone (``san``), or the
pinyin initials (``zs``, ``wxm``). Case and spaces never matter. Each name form of the query
(``Zhang^San=张^三``) may match; any group of the stored name may be the one that does.

Patient names also match on the index's pinyin keys (:mod:`core_server.archive.pinyin`, made
at ingest with the surname table), so ``zs`` or ``张三`` finds a name sent only in Chinese
characters, and ``张三`` one sent only in pinyin.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_, true

from core_server.archive.pinyin import normalize_query, pinyin_keys

_MAX_INITIALS = 4  # longer all-letter queries are full spellings, not initials


def fuzzy_name(
    keys: tuple[Any, ...], value: str, pinyin: tuple[Any, Any] | None = None
) -> ColumnElement[bool]:
    """Rows whose name (any of ``keys``, the upper-cased component groups, or the
    ``pinyin`` (initials, spelled) key columns) matches ``value``."""
    conditions: list[ColumnElement[bool]] = []
    for form in value.split("="):
        text = "".join(ch for ch in form.upper() if ch not in " ^*?-'%_")
        if not text:
            continue
        letters = text.isascii() and text.isalpha()
        for key in keys:
            joined = func.replace(func.replace(key, "^", ""), " ", "")
            conditions.append(joined.like(text + "%"))
            conditions.append(key.like(f"%^{text}%"))  # the given name alone
            if letters and 2 <= len(text) <= _MAX_INITIALS:
                conditions.extend(key.like(pattern) for pattern in _initials_patterns(text))
        if pinyin is not None:
            initials, spelled = pinyin
            if letters:
                conditions.append(initials.like(text + "%"))
                conditions.append(spelled.like(normalize_query(text) + "%"))
            else:
                spelling = pinyin_keys(form)[1]
                if spelling:
                    conditions.append(spelled.like(spelling + "%"))
    if not conditions:
        return true()
    return or_(*conditions)


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
