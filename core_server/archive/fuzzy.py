"""Fuzzy person-name matching (QIDO-RS ``fuzzymatching=true``), for the way Chinese names are
searched at a front desk: a name typed without the ``^`` between family and given name
(``zhangsan``, ``张三``), a prefix of it (``zhangs``), the given name alone (``san``), or the
pinyin initials (``zs``, ``wxm``). Case and spaces never matter. Each name form of the query
(``Zhang^San=张^三``) may match; any group of the stored name may be the one that does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_, true

_MAX_INITIALS = 4  # longer all-letter queries are full spellings, not initials


def fuzzy_name(keys: tuple[Any, ...], value: str) -> ColumnElement[bool]:
    """Rows whose name (any of ``keys``, the upper-cased component groups) matches ``value``."""
    conditions: list[ColumnElement[bool]] = []
    for form in value.split("="):
        text = "".join(ch for ch in form.upper() if ch not in " ^*?-'").replace("%", "")
        text = text.replace("_", "")
        if not text:
            continue
        for key in keys:
            joined = func.replace(func.replace(key, "^", ""), " ", "")
            conditions.append(joined.like(text + "%"))
            conditions.append(key.like(f"%^{text}%"))  # the given name alone
            if text.isascii() and text.isalpha() and 2 <= len(text) <= _MAX_INITIALS:
                conditions.extend(key.like(pattern) for pattern in _initials_patterns(text))
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
