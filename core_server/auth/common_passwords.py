"""Passwords everyone tries first: a small list made here, not copied from a leaked set.

No public top-N list with a clear licence ships with a Debian or PyPI package we use, so the
obvious ones are generated instead: digit runs and repeats, keyboard walks, dates of birth,
and common words (English, pinyin, the hospital's own) with the suffixes people add
(``password1``, ``Woaini1314``, ``P@ssw0rd!``). :func:`is_common` matches ignoring case and
the usual letter-for-symbol swaps; a word with other text around it (``password-for-ct3``)
is not on the list: the length and character-class rules judge it.
"""

from __future__ import annotations

import re
from functools import cache

# Words people build passwords on (lower case, letters only): English from every "worst
# passwords" article, pinyin, and this kind of appliance's own.
WORDS = frozenset(
    (
        "password",
        "passwd",
        "pass",
        "admin",
        "administrator",
        "root",
        "user",
        "guest",
        "test",
        "welcome",
        "letmein",
        "login",
        "master",
        "secret",
        "qwerty",
        "iloveyou",
        "monkey",
        "dragon",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "superman",
        "batman",
        "shadow",
        "michael",
        "jennifer",
        "hello",
        "freedom",
        "whatever",
        "trustno",
        "charlie",
        "computer",
        "internet",
        "default",
        "changeme",
        "access",
        "system",
        "server",
        "manager",
        "abc",
        "abcd",
        "abcdef",
        "love",
        "lovely",
        "angel",
        "flower",
        "summer",
        "winter",
        "spring",
        "autumn",
        "china",
        "beijing",
        "shanghai",
        "woaini",
        "aini",
        "woaiwojia",
        "wodemima",
        "mima",
        "zhongguo",
        "nihao",
        "laopo",
        "laogong",
        "baobao",
        "yiyuan",
        "fangshe",
        "yingxiang",
        "jiancha",
        "huanying",
        "zhangsan",
        "lisi",
        "wangwu",
        "pacs",
        "ris",
        "dicom",
        "hospital",
        "radiology",
        "imaging",
        "doctor",
        "nurse",
        "ct",
        "mri",
        "ultrasound",
        "orthanc",
    )
)

# What people add after a word.
SUFFIXES = frozenset(
    (
        "1",
        "12",
        "123",
        "1234",
        "12345",
        "123456",
        "1234567",
        "12345678",
        "123456789",
        "11",
        "111",
        "000",
        "01",
        "0",
        "2",
        "22",
        "520",
        "521",
        "1314",
        "5201314",
        "666",
        "888",
        "88",
        "66",
        "99",
        "007",
        "!",
        "!!",
        "@",
        "#",
        ".",
        "*",
        "1!",
        "123!",
        "1@",
        "123@",
        "@123",
        "#123",
        "!@#",
        "!@#$",
        "1qaz",
        "qwe",
        "abc",
    )
)

# Keyboard and alphabet walks; any stretch of six or more keys of one is a walk.
WALKS = (
    "1234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "abcdefghijklmnopqrstuvwxyz",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    "1q2w3e4r5t6y7u8i9o0p",
    "q1w2e3r4t5y6u7i8o9p0",
    "zaq1xsw2cde3vfr4bgt5",
    "!qaz@wsx#edc$rfv",
    "qweasdzxc",
    "147258369",
    "159357",
    "741852963",
    "!@#$%^&*()",
)

# Common in China as they are (520 and 1314 are love words).
LISTED = frozenset(
    (
        "5201314",
        "1314520",
        "147258369",
        "987654321",
        "123321",
        "112233",
        "159357",
        "159753",
        "741852963",
        "a123456",
        "qq123456",
        "aa123456",
        "abc123456",
        "a123456789",
        "woaini1314",
        "1qaz2wsx",
        "1q2w3e4r",
        "zxcvbnm123",
        "qwe123",
        "qwe123456",
        "asd123",
        "asd123456",
        "admin123",
        "admin888",
        "test123",
    )
)

_LEET = str.maketrans(
    {
        "@": "a",
        "4": "a",
        "0": "o",
        "1": "i",
        "!": "i",
        "3": "e",
        "$": "s",
        "5": "s",
        "7": "t",
        "+": "t",
    }
)
_SPLIT = re.compile(r"^(.*?)([0-9!@#$%^&*.?_~+=-]*)$")
_YEAR = re.compile(r"^(19|20)\d\d$")
_DATE = re.compile(r"^(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")


def is_common(password: str) -> bool:
    """Whether ``password`` is one of the passwords everyone tries first."""
    lowered = password.lower()
    if lowered in LISTED or _pattern(lowered):
        return True
    core, suffix = _split(lowered)
    if _word(core, suffix):
        return True
    # P@ssw0rd!: undo the symbol swaps in the word part only, then look again.
    return _word(core.translate(_LEET), suffix) or _word(lowered.translate(_LEET), "")


def _split(text: str) -> tuple[str, str]:
    match = _SPLIT.match(text)
    assert match is not None  # the pattern matches every string
    return match.group(1), match.group(2)


def _word(core: str, suffix: str) -> bool:
    if core not in WORDS:
        return False
    return not suffix or suffix in SUFFIXES or bool(_YEAR.match(suffix))


def _pattern(text: str) -> bool:
    """One character repeated, a short unit repeated (``12121212``, ``abcabc``), a date of
    birth (``19850612``), or a walk along the keyboard or the alphabet, either way."""
    if len(set(text)) <= 2:
        return True
    for size in range(1, 5):
        unit = text[:size]
        if len(text) >= 2 * size and unit * (len(text) // size) + unit[: len(text) % size] == text:
            return True
    if _DATE.match(text):
        return True
    core = _split(text)[0] or text
    return len(core) >= 6 and any(core in walk for walk in _walks())


@cache
def _walks() -> tuple[str, ...]:
    found = [*WALKS, *(w[::-1] for w in WALKS)]
    return (*found, "0123456789", "9876543210")
