"""Pinyin search keys for patient names, so a front desk can type ``zs`` or ``zhangsan`` for 张三.

Many Chinese modalities send the name in Chinese characters only (in the first component
group or the ideographic one), which neither a Latin prefix nor the initials can match; the
index keeps two keys computed at ingest with pypinyin:

- ``initials``: the first letters of the name's syllables (张三 -> ``ZS``, 欧阳修 -> ``OYX``),
- ``spelled``: the whole name in pinyin without separators (``ZHANGSAN``), ü as ``YU`` (吕
  -> ``LYU``) as the RIS writes it for modalities (passport spelling); searches typing
  ``LV`` are rewritten to match (see :func:`normalize_query`).

The family name is read as a surname: pypinyin reads 单 as DAN and 曾 as CENG, surnames SHAN
and ZENG, so a table of surname readings (and compound surnames) comes first. Names without
Chinese characters take their keys from the alphabetic group: each ``^``- or space-separated
part gives one initial (``WANG^XIAO MING`` -> ``WXM``; ``WANG^XIAOMING`` -> ``WX``: splitting
run-together pinyin into syllables is left to the search, which also matches ``spelled``).
"""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

# Surnames whose reading differs from pypinyin's everyday reading of the character (the
# initial matters most; the whole reading feeds the spelled key). The RIS keeps its own table
# for the names it sends to modalities (core_server.ris.pinyin); the two agree on readings.
SURNAMES: dict[str, tuple[str, ...]] = {
    "单": ("shan",),
    "曾": ("zeng",),
    "区": ("ou",),
    "解": ("xie",),
    "仇": ("qiu",),
    "朴": ("piao",),
    "查": ("zha",),
    "盖": ("ge",),
    "覃": ("qin",),
    "翟": ("zhai",),
    "召": ("shao",),
    "祭": ("zhai",),
    "能": ("nai",),
    "薄": ("bo",),
    "柏": ("bai",),
    "黑": ("he",),
    "褚": ("chu",),
    "冼": ("xian",),
    "藏": ("zang",),
    "阚": ("kan",),
    "贲": ("ben",),
    "射": ("ye",),
    "种": ("chong",),
    "重": ("chong",),
    "乐": ("yue",),
    "秘": ("bi",),
    "句": ("gou",),
    "繁": ("po",),
    "宓": ("fu",),
    "折": ("she",),
    "隗": ("wei",),
    "缪": ("miao",),
    "员": ("yun",),
    # Compound surnames, listed so that 欧阳修 splits as 欧阳 + 修 when no ^ separates them.
    "欧阳": ("ou", "yang"),
    "司马": ("si", "ma"),
    "诸葛": ("zhu", "ge"),
    "上官": ("shang", "guan"),
    "皇甫": ("huang", "fu"),
    "令狐": ("ling", "hu"),
    "司徒": ("si", "tu"),
    "夏侯": ("xia", "hou"),
    "东方": ("dong", "fang"),
    "慕容": ("mu", "rong"),
    "尉迟": ("yu", "chi"),
    "长孙": ("zhang", "sun"),
    "万俟": ("mo", "qi"),
    "单于": ("chan", "yu"),
    "澹台": ("tan", "tai"),
    "公孙": ("gong", "sun"),
    "宇文": ("yu", "wen"),
    "端木": ("duan", "mu"),
    "呼延": ("hu", "yan"),
    "轩辕": ("xuan", "yuan"),
    "申屠": ("shen", "tu"),
    "钟离": ("zhong", "li"),
    "闾丘": ("lyu", "qiu"),
    "闻人": ("wen", "ren"),
    "西门": ("xi", "men"),
    "南宫": ("nan", "gong"),
    "百里": ("bai", "li"),
    "公冶": ("gong", "ye"),
    "赫连": ("he", "lian"),
    "独孤": ("du", "gu"),
}
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_PART = re.compile(r"[A-Za-z]+")
KEY_LENGTH = 64


def pinyin_keys(name: str) -> tuple[str, str]:
    """(initials, spelled) of a DICOM person name; empty strings if it has no usable part."""
    groups = name.split("=")
    han = next((g for g in groups if _HAN.search(g)), None)
    if han is not None:
        syllables = _han_syllables(han)
    else:
        syllables = [p.lower() for p in _LATIN_PART.findall(groups[0])]
    initials = "".join(s[0] for s in syllables if s).upper()
    spelled = normalize_query("".join(syllables))  # a Latin LV^BU as LYUBU too
    return initials[:KEY_LENGTH], spelled[:KEY_LENGTH]


def _han_syllables(group: str) -> list[str]:
    components = group.split("^")
    family = "".join(_HAN.findall(components[0]))
    given = "".join("".join(_HAN.findall(c)) for c in components[1:3])
    if len(components) == 1:
        # No ^ between family and given name (张三): the surname is the first one or two
        # characters, two when they make a compound surname.
        whole = family
        cut = 2 if whole[:2] in SURNAMES else 1
        family, given = whole[:cut], whole[cut:]
    return _surname(family) + _spell(given)


def _surname(family: str) -> list[str]:
    if not family:
        return []
    if family in SURNAMES:
        return list(SURNAMES[family])
    if family[:2] in SURNAMES and len(family) > 2:
        return list(SURNAMES[family[:2]]) + _spell(family[2:])
    if family[0] in SURNAMES:
        return list(SURNAMES[family[0]]) + _spell(family[1:])
    return _spell(family)


def _spell(text: str) -> list[str]:
    if not text:
        return []
    spelled = lazy_pinyin(text, style=Style.NORMAL, errors="ignore", v_to_u=True)
    return [s.replace("ü", "yu") for s in spelled if s.isalpha()]


def normalize_query(letters: str) -> str:
    """Upper-cased search letters with ü typed the common way (``LV``, ``NV``) spelled as the
    keys hold it (``LYU``); V is no other pinyin letter."""
    return letters.upper().replace("V", "YU")


def pinyin_columns(name: str) -> dict[str, str]:
    """The ``patients`` columns holding the keys of ``name``."""
    initials, spelled = pinyin_keys(name)
    return {"patient_name_initials": initials, "patient_name_pinyin": spelled}
