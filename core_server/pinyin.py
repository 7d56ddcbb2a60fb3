"""Chinese names in pinyin, the one place that reads them: the RIS's names for modalities
(``张三`` -> ``ZHANG^SAN``, the DICOM Person Name ``ZHANG^SAN=张^三``, initials) and the
archive's search keys (``ZS`` and ``ZHANGSAN`` for whatever form a modality sent).

pypinyin reads a character by its commonest sound; as a surname many read otherwise (单 is
SHAN, not DAN; 曾 ZENG, not CENG), so the family name's reading comes from the surname tables
below, compound surnames (欧阳, 司马...) first. ü is written ``YU`` (吕 LYU, 女 NYU, 略 LYUE),
the spelling of Chinese passports (Ministry of Public Security rule, after GB/T 28039-2011),
because DICOM and most modality consoles cannot show ü and ``LV`` is not a syllable anyone can
read back; a search typed the common way (``LV``) is rewritten by :func:`normalize_query`.
"""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

# Compound surnames (复姓): a name without ^ starting with one of these splits after it
# (欧阳修 -> 欧阳 + 修).
COMPOUND_SURNAMES: dict[str, tuple[str, str]] = {
    "欧阳": ("ou", "yang"),
    "司马": ("si", "ma"),
    "诸葛": ("zhu", "ge"),
    "上官": ("shang", "guan"),
    "司徒": ("si", "tu"),
    "夏侯": ("xia", "hou"),
    "尉迟": ("yu", "chi"),
    "万俟": ("mo", "qi"),
    "长孙": ("zhang", "sun"),
    "令狐": ("ling", "hu"),
    "皇甫": ("huang", "fu"),
    "东方": ("dong", "fang"),
    "慕容": ("mu", "rong"),
    "公孙": ("gong", "sun"),
    "宇文": ("yu", "wen"),
    "澹台": ("tan", "tai"),
    "单于": ("chan", "yu"),
    "端木": ("duan", "mu"),
    "轩辕": ("xuan", "yuan"),
    "呼延": ("hu", "yan"),
    "闻人": ("wen", "ren"),
    "西门": ("xi", "men"),
    "南宫": ("nan", "gong"),
    "百里": ("bai", "li"),
    "钟离": ("zhong", "li"),
    "公冶": ("gong", "ye"),
    "赫连": ("he", "lian"),
    "独孤": ("du", "gu"),
    "申屠": ("shen", "tu"),
    "闾丘": ("lyu", "qiu"),
}

# Single surnames whose reading differs from the character's commonest one, or that pypinyin
# gets wrong in some contexts.
SURNAMES: dict[str, str] = {
    "单": "shan",
    "曾": "zeng",
    "区": "ou",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "查": "zha",
    "盖": "ge",
    "华": "hua",
    "乐": "yue",
    "缪": "miao",
    "覃": "qin",
    "翟": "zhai",
    "祭": "zhai",
    "尉": "yu",
    "员": "yun",
    "种": "chong",
    "重": "chong",
    "秘": "bi",
    "繁": "po",
    "召": "shao",
    "能": "nai",
    "折": "she",
    "句": "gou",
    "纪": "ji",
    "任": "ren",
    "沈": "shen",
    "薄": "bo",
    "柏": "bai",
    "黑": "he",
    "长": "chang",
    "褚": "chu",
    "隗": "wei",
    "眭": "sui",
    "冼": "xian",
    "吕": "lyu",
    "闵": "min",
    "藏": "zang",
    "说": "yue",
    "卜": "bu",
    "都": "du",
    "角": "jue",
    "过": "guo",
    "阚": "kan",
    "贲": "ben",
    "蕃": "pi",
    "射": "ye",
    "宓": "fu",
}

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def is_chinese(text: str) -> bool:
    """Whether ``text`` holds a Chinese character (CJK unified or compatibility ideograph)."""
    return _HAN.search(text) is not None


def split_name(name: str) -> tuple[str, str]:
    """Family and given name of a Chinese name (``欧阳娜娜`` -> ``欧阳``, ``娜娜``). A name with
    ``^`` is already split (DICOM components: family^given^middle...)."""
    name = name.strip()
    if "^" in name:
        family, _, given = name.partition("^")
        return family, given.replace("^", "")
    if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


def syllables(name: str) -> tuple[list[str], list[str]]:
    """Lower-case pinyin syllables of a Chinese name's family and given name, the family read
    with the surname tables. Latin letters inside are kept as one syllable per run; digits and
    punctuation are dropped."""
    family, given = split_name(name)
    return _family(family), _spell(given)


def _family(family: str) -> list[str]:
    if not family:
        return []
    if family[:2] in COMPOUND_SURNAMES:
        return list(COMPOUND_SURNAMES[family[:2]]) + _spell(family[2:])
    if family[0] in SURNAMES:
        return [SURNAMES[family[0]], *_spell(family[1:])]
    return _spell(family)


def _spell(text: str) -> list[str]:
    if not text:
        return []
    parts = lazy_pinyin(text, style=Style.NORMAL, errors=_latin_letters, v_to_u=True)
    spelled = (p.lower().replace("ü", "yu") for p in parts)
    return [s for s in spelled if s.isascii() and s.isalpha()]


def _latin_letters(text: str) -> str:
    # pypinyin hands over each run of characters without a reading; its letters stay.
    return "".join(_LATIN_WORD.findall(text))


def to_pinyin(name: str) -> str:
    """``ZHANG^SAN`` for ``张三``; a name without Chinese characters is upper-cased with spaces
    turned into component separators (``John Smith`` -> ``JOHN^SMITH``)."""
    name = name.strip()
    if not name:
        return ""
    if not is_chinese(name):
        return "^".join(name.replace("^", " ").upper().split())
    family, given = syllables(name)
    family_pinyin, given_pinyin = "".join(family).upper(), "".join(given).upper()
    return f"{family_pinyin}^{given_pinyin}" if given_pinyin else family_pinyin


def initials(name: str, pinyin: str = "") -> str:
    """Upper-case pinyin initials (``ZS`` for 张三, ``OYNN`` for 欧阳娜娜): what registrars
    type to find a patient. A name without Chinese characters gives the first letter of each
    word of ``pinyin`` (or of the name)."""
    if not is_chinese(name):
        return "".join(w[0] for w in (pinyin or to_pinyin(name)).replace("^", " ").split())
    family, given = syllables(name)
    return "".join(s[0] for s in family + given if s).upper()


def dicom_person_name(name: str, pinyin: str = "") -> str:
    """The DICOM Person Name with the alphabetic and ideographic groups: ``ZHANG^SAN=张^三``.
    A name without Chinese characters has the alphabetic group only."""
    pinyin = pinyin or to_pinyin(name)
    if not is_chinese(name):
        return pinyin
    family, given = split_name(name)
    ideographic = f"{family}^{given}" if given else family
    return f"{pinyin}={ideographic}"


def search_keys(person_name: str) -> tuple[str, str]:
    """(initials, spelled) of a DICOM Person Name in any form a modality sends (``张三``,
    ``张^三``, ``ZHANG^SAN=张^三``, ``=张^三``, ``Zhang^San``): ``("ZS", "ZHANGSAN")``.

    The group with Chinese characters decides; without one, each ``^``- or space-separated
    Latin word of the first group gives one initial (``WANG^XIAO MING`` -> ``WXM``;
    ``WANG^XIAOMING`` -> ``WX``: run-together pinyin is left to the spelled key)."""
    groups = person_name.split("=")
    han = next((g for g in groups if is_chinese(g)), None)
    if han is not None:
        family, given = syllables(_han_components(han))
        words = family + given
    else:
        words = [w.lower() for w in _LATIN_WORD.findall(groups[0])]
    letters = "".join(w[0] for w in words if w).upper()
    return letters, normalize_query("".join(words))  # a Latin LV^BU as LYUBU too


def _han_components(group: str) -> str:
    # Family^given(^middle) with only the Chinese characters kept; prefix and suffix dropped.
    components = ["".join(_HAN.findall(c)) for c in group.split("^")[:3]]
    if len(components) == 1:
        return components[0]
    return components[0] + "^" + "".join(components[1:])


def normalize_query(letters: str) -> str:
    """Upper-cased search letters with ü typed the common way (``LV``, ``NV``) spelled as the
    keys hold it (``LYU``); V is no other pinyin letter."""
    return letters.upper().replace("V", "YU")
