"""How the RIS keeps a patient's name, and the forms it gives out (one type:
:class:`core_server.names.PersonName`).

A name is stored as it was received, in two columns:

- ``name``: the components as the HIS sent them (HL7 ``王^建国``, ``Smith^John``), the
  ideographic group of a DICOM-shaped name (``WANG^JIANGUO=王^建国`` -> ``王^建国``), or the
  name as the registrar typed it (``王建国``, ``买买提·艾力``, ``John Smith``; whitespace
  collapsed, none inside a Chinese name). A typed name is not split when stored: reading it
  splits it with the surname tables every time, the same way, so nothing a registrar typed is
  changed or lost.
- ``name_pinyin``: the alphabetic group, ``WANG^JIANGUO`` (family^given, upper case): the
  one the HIS or the modality sent, the one the registrar corrected, or the surname tables'
  reading. A name written with a middle dot (a transliterated name, 买买提·艾力) is not a
  family name + given name: it is kept whole, and its pinyin spells each part
  (``MAIMAITI^AILI``).

Three more columns serve the registration desk's search, all indexed: ``name_shown`` (the
display name, 王建国: full name and name prefix), ``name_spelled`` (the pinyin's letters in
reading order, ``WANGJIANGUO``: full pinyin and pinyin prefix) and ``name_initials`` (``WJG``).
"""

from __future__ import annotations

import re
from typing import Any

from core_server import pinyin
from core_server.names import NameGroup, PersonName

# Middle dots of transliterated names: U+00B7, U+2022, U+30FB, U+2027, U+FF0E and a full stop.
_DOTS = re.compile(r"[·•・‧．.]")
_LETTERS = re.compile(r"[A-Za-z]+")
_SPELLED_QUERY = re.compile(r"[A-Za-z][A-Za-z ^'-]*")


def person(name: str, spelled: str = "") -> PersonName:
    """The name of stored ``name`` and ``name_pinyin`` columns (or any name the RIS holds)."""
    text = name.strip()
    if "=" in text:
        return PersonName.parse(text)
    if pinyin.is_chinese(text) and "^" not in text and _DOTS.search(text):
        parsed = PersonName(ideographic=NameGroup(family=text))
    else:
        parsed = PersonName.parse(text)
    if spelled.strip() and parsed.ideographic:
        return PersonName(NameGroup.parse(spelled.strip().upper()), parsed.ideographic)
    return parsed


def received(name: str, spelled: str = "") -> tuple[str, str]:
    """The ``name`` and ``name_pinyin`` columns for a name in any shape, with the pinyin
    given (``WANG JIANGUO`` as typed, ``WANG^JIANGUO``) or, when empty, made."""
    text = " ".join(name.split())
    if "=" in text:
        parsed = PersonName.parse(text)
        stored = (parsed.ideographic or parsed.alphabetic).components()
        if parsed.ideographic and not spelled.strip():
            spelled = parsed.alphabetic.components()
    elif pinyin.is_chinese(text):
        stored = "".join(text.split())
    else:
        stored = text
    return stored, spelling(stored, spelled)


def spelling(name: str, spelled: str = "") -> str:
    """The ``name_pinyin`` of a stored name: ``spelled`` normalised (family first, ``^``
    between family and given name), or the surname tables' reading when it is empty."""
    spelled = " ".join(spelled.replace("^", " ^ ").split()).replace(" ^ ", "^").strip("^ ")
    parsed = person(name)
    if not parsed.ideographic:
        source = spelled or name
        return "^".join(source.replace("^", " ").upper().split())
    if spelled:
        return parsed.with_pinyin(spelled).alphabetic.components().upper()
    whole = parsed.ideographic.family if not parsed.ideographic.given else ""
    if whole and _DOTS.search(whole):
        parts = [_spelled_run(p) for p in _DOTS.split(whole) if p.strip()]
        return "^".join([parts[0], " ".join(parts[1:])] if len(parts) > 1 else parts)
    return parsed.pinyin()


def _spelled_run(text: str) -> str:
    """A run of characters in pinyin without a family-name reading: 买买提 -> MAIMAITI."""
    _family, given = pinyin.syllables("^" + text)  # all of it as a given name: no surname
    return "".join(given).upper()


def search_columns(name: str, spelled: str) -> dict[str, str]:
    """The indexed search columns of a stored name (see the module's docstring)."""
    parsed = person(name, spelled)
    latin = parsed.latin() if parsed.ideographic else parsed.display()
    return {
        "name_shown": parsed.display()[:128],
        "name_spelled": _letters(latin)[:128],
        "name_initials": _initials(name, spelled)[:32],
    }


def _initials(name: str, spelled: str) -> str:
    text = name.split("=")[-1] if "=" in name else name
    if pinyin.is_chinese(text):
        return pinyin.initials(_DOTS.sub("", text))
    return pinyin.initials(text, spelled)


def _letters(text: str) -> str:
    """Upper-case letters only, ü typed the common way rewritten (``LV`` -> ``LYU``)."""
    return pinyin.normalize_query("".join(_LETTERS.findall(text)))


def query(text: str) -> tuple[str, str]:
    """What a search text is compared with: (a prefix of ``name_shown``, a prefix of
    ``name_spelled``); ``王^建国``, ``王 建国`` and ``王建国`` all read 王建国, ``shan xue``
    and ``Shan^Xue`` read ``SHANXUE``."""
    value = " ".join(text.split())
    if pinyin.is_chinese(value):
        shown = "".join(value.split("=")[-1].replace("^", " ").split())
        return shown, ""
    # Only a text of letters is a pinyin: ``P12`` or a phone number spells nothing.
    return value, _letters(value) if _SPELLED_QUERY.fullmatch(value) else ""


def forms(name: PersonName) -> dict[str, Any]:
    """What an API reader gets besides the stored components: the display name, the family
    and given name, the pinyin as read (``WANG JIANGUO``) and the DICOM Person Name."""
    group = name.ideographic or name.alphabetic
    return {
        "display_name": name.display(),
        "name_family": group.family,
        "name_given": group.given,
        "pinyin_display": name.latin() if name.ideographic else "",
        "dicom_name": name.dicom(),
    }
