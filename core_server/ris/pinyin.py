"""Chinese names in pinyin for modalities: ``张三`` -> ``ZHANG^SAN``, and the DICOM Person Name
with both groups, ``ZHANG^SAN=张^三``.

pypinyin reads a character by its commonest sound; as a surname many read otherwise (单 is
SHAN, not DAN). The surname table below decides the family name's reading, compound surnames
(欧阳, 司马...) first. ü is written ``YU`` (吕 LYU, 女 NYU, 略 LYUE), the spelling of Chinese
passports (Ministry of Public Security rule, after GB/T 28039-2011), because DICOM and most
modality consoles cannot show ü and ``LV`` is not a syllable anyone can read back.
"""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin

# Compound surnames (复姓), checked before single ones.
COMPOUND_SURNAMES: dict[str, str] = {
    "欧阳": "OUYANG",
    "司马": "SIMA",
    "诸葛": "ZHUGE",
    "上官": "SHANGGUAN",
    "司徒": "SITU",
    "夏侯": "XIAHOU",
    "尉迟": "YUCHI",
    "万俟": "MOQI",
    "长孙": "ZHANGSUN",
    "令狐": "LINGHU",
    "皇甫": "HUANGFU",
    "东方": "DONGFANG",
    "慕容": "MURONG",
    "公孙": "GONGSUN",
    "宇文": "YUWEN",
    "澹台": "TANTAI",
    "单于": "CHANYU",
    "端木": "DUANMU",
    "轩辕": "XUANYUAN",
    "呼延": "HUYAN",
    "闻人": "WENREN",
    "西门": "XIMEN",
    "南宫": "NANGONG",
    "百里": "BAILI",
    "钟离": "ZHONGLI",
    "公冶": "GONGYE",
    "赫连": "HELIAN",
    "独孤": "DUGU",
}

# Single surnames whose reading differs from the character's commonest one (or that pypinyin
# gets wrong in some contexts).
SURNAMES: dict[str, str] = {
    "单": "SHAN",
    "曾": "ZENG",
    "区": "OU",
    "解": "XIE",
    "仇": "QIU",
    "朴": "PIAO",
    "查": "ZHA",
    "盖": "GE",
    "华": "HUA",
    "乐": "YUE",
    "缪": "MIAO",
    "覃": "QIN",
    "翟": "ZHAI",
    "祭": "ZHAI",
    "尉": "YU",
    "员": "YUN",
    "种": "CHONG",
    "秘": "BI",
    "繁": "PO",
    "召": "SHAO",
    "能": "NAI",
    "折": "SHE",
    "句": "GOU",
    "纪": "JI",
    "任": "REN",
    "沈": "SHEN",
    "薄": "BO",
    "柏": "BAI",
    "黑": "HE",
    "长": "CHANG",
    "重": "CHONG",
    "褚": "CHU",
    "隗": "WEI",
    "眭": "SUI",
    "冼": "XIAN",
    "吕": "LYU",
    "闵": "MIN",
    "藏": "ZANG",
    "说": "YUE",
    "卜": "BU",
    "都": "DU",
    "角": "JUE",
    "过": "GUO",
    "阚": "KAN",
    "贲": "BEN",
    "蕃": "PI",
    "射": "YE",
}


def split_name(name: str) -> tuple[str, str]:
    """Family and given name of a Chinese name written without a separator (``欧阳娜娜`` ->
    ``欧阳``, ``娜娜``). A name with ``^`` is already split."""
    name = name.strip()
    if "^" in name:
        family, _, given = name.partition("^")
        return family, given.replace("^", "")
    if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


def is_chinese(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def _keep_alphanumeric(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


def _syllables(text: str) -> str:
    # Characters without a reading (Latin letters, digits) are kept; punctuation is dropped.
    parts = lazy_pinyin(text, style=Style.NORMAL, errors=_keep_alphanumeric)
    return "".join(p.replace("v", "yu").replace("ü", "yu") for p in parts).upper()


def to_pinyin(name: str) -> str:
    """``ZHANG^SAN`` for ``张三``; a name without ideographs is upper-cased with spaces turned
    into component separators (``John Smith`` -> ``JOHN^SMITH``)."""
    name = name.strip()
    if not name:
        return ""
    if not is_chinese(name):
        return "^".join(name.replace("^", " ").upper().split())
    family, given = split_name(name)
    family_pinyin = COMPOUND_SURNAMES.get(family) or SURNAMES.get(family) or _syllables(family)
    given_pinyin = _syllables(given)
    return f"{family_pinyin}^{given_pinyin}" if given_pinyin else family_pinyin


def initials(name: str, pinyin: str = "") -> str:
    """Upper-case pinyin initials (``ZS`` for 张三, ``OYNN`` for 欧阳娜娜): what registrars
    type to find a patient."""
    if not is_chinese(name):
        return "".join(w[0] for w in (pinyin or to_pinyin(name)).replace("^", " ").split())
    family, given = split_name(name)
    letters = []
    for i, ch in enumerate(family):
        reading = (
            COMPOUND_SURNAMES.get(family)
            if len(family) == 2 and family in COMPOUND_SURNAMES
            else SURNAMES.get(ch)
        )
        if reading and len(family) == 2:
            # The compound's reading split at the second character's pinyin.
            letters.append(_syllables(ch)[0] if i else reading[0])
        else:
            letters.append((reading or _syllables(ch) or "?")[0])
    letters += [(_syllables(ch) or "?")[0] for ch in given]
    return "".join(letters)


def dicom_person_name(name: str, pinyin: str = "") -> str:
    """The DICOM Person Name with the alphabetic and ideographic groups: ``ZHANG^SAN=张^三``.
    A name without ideographs has the alphabetic group only."""
    pinyin = pinyin or to_pinyin(name)
    if not is_chinese(name):
        return pinyin
    family, given = split_name(name)
    ideographic = f"{family}^{given}" if given else family
    return f"{pinyin}={ideographic}"
