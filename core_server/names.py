"""A person's name, the one type that knows its components: the way every page, PDF, label,
voice text and message shows a patient or a doctor.

Names arrive in three shapes: from the HIS by HL7 (``王^建国``: XPN family^given), from a
modality by DICOM (``WANG^JIANGUO=王^建国``: the alphabetic, ideographic and phonetic groups of
a Person Name, each family^given^middle^prefix^suffix) and typed at the desk (``王建国``,
``John Smith``). :meth:`PersonName.parse` reads all three; :meth:`PersonName.display` never
shows a ``^``:

- a Chinese name, by its ideographic group, family name first with no space: 王建国;
- a pinyin name (a modality without Chinese), family name first: WANG JIANGUO;
- a Western name given name first: John Smith (from ``Smith^John``);
- a typed name without components stays as typed.

The pinyin of a Chinese name comes from :mod:`core_server.pinyin` (surname tables) when the
name did not bring one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache

from core_server import pinyin

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_COMPONENTS = ("family", "given", "middle", "prefix", "suffix")


@dataclass(frozen=True)
class NameGroup:
    """One component group of a name: family^given^middle^prefix^suffix."""

    family: str = ""
    given: str = ""
    middle: str = ""
    prefix: str = ""
    suffix: str = ""

    @classmethod
    def parse(cls, text: str) -> NameGroup:
        parts = [p.strip() for p in text.split("^")[:5]]
        return cls(*parts)

    def __bool__(self) -> bool:
        return any(getattr(self, c) for c in _COMPONENTS)

    def components(self) -> str:
        """``family^given^middle^prefix^suffix`` without trailing empty components."""
        return "^".join(getattr(self, c) for c in _COMPONENTS).rstrip("^")


@dataclass(frozen=True)
class PersonName:
    """A name's alphabetic, ideographic and phonetic groups (DICOM PS3.5 6.2.1.1)."""

    alphabetic: NameGroup = field(default_factory=NameGroup)
    ideographic: NameGroup = field(default_factory=NameGroup)
    phonetic: NameGroup = field(default_factory=NameGroup)

    @classmethod
    def parse(cls, value: str | PersonName | None) -> PersonName:
        """Any of the shapes above; ``None`` and ``""`` give the empty name."""
        if isinstance(value, PersonName):
            return value
        text = (value or "").strip()
        if not text:
            return cls()
        if "=" in text:
            groups = [NameGroup.parse(g) for g in text.split("=")[:3]]
            groups += [NameGroup()] * (3 - len(groups))
            alphabetic, ideographic, phonetic = groups
            if _CJK.search(alphabetic.components()) and not ideographic:
                alphabetic, ideographic = NameGroup(), alphabetic
            return cls(alphabetic, ideographic, phonetic)
        if _CJK.search(text):
            if "^" in text:
                return cls(ideographic=NameGroup.parse(_no_spaces(text)))
            family, given = pinyin.split_name(_no_spaces(text))
            return cls(ideographic=NameGroup(family, given))
        if "^" in text:
            return cls(alphabetic=NameGroup.parse(text))
        return cls(alphabetic=NameGroup(family=" ".join(text.split())))  # typed as is

    @classmethod
    def of(cls, family: str, given: str = "", *, alphabetic: str = "") -> PersonName:
        """A Chinese name from its parts, with its pinyin (``WANG^JIANGUO``) if known."""
        group = NameGroup(family.strip(), given.strip())
        if _CJK.search(family + given):
            return cls(alphabetic=NameGroup.parse(alphabetic), ideographic=group)
        return cls(alphabetic=group)

    def __bool__(self) -> bool:
        return bool(self.alphabetic or self.ideographic or self.phonetic)

    def __str__(self) -> str:
        return self.display()

    @property
    def is_chinese(self) -> bool:
        return bool(self.ideographic)

    @property
    def family(self) -> str:
        return (self.ideographic or self.alphabetic).family

    @property
    def given(self) -> str:
        return (self.ideographic or self.alphabetic).given

    def display(self) -> str:
        """The name as a person reads it (see the module's docstring); never a ``^``."""
        if self.ideographic:
            g = self.ideographic
            return f"{g.prefix}{g.family}{g.given}{g.middle}{g.suffix}"
        return self.latin()

    def latin(self) -> str:
        """The alphabetic group in reading order: pinyin family first, Western given first."""
        g = self.alphabetic
        if not g.given:
            return " ".join(w for w in (g.prefix, g.family, g.middle, g.suffix) if w)
        if self.ideographic or (_is_pinyin(g.family) and _is_pinyin(g.given)):
            words = (g.prefix, g.family, g.given, g.middle, g.suffix)
        else:
            words = (g.prefix, g.given, g.middle, g.family, g.suffix)
        return " ".join(w for w in words if w)

    def pinyin(self) -> str:
        """The alphabetic group as DICOM components (``WANG^JIANGUO``), made from the Chinese
        characters with the surname tables when the name brought none."""
        if self.alphabetic:
            return self.alphabetic.components().upper()
        if self.ideographic:
            return pinyin.to_pinyin(self.ideographic.components())
        return ""

    def with_pinyin(self, spelled: str) -> PersonName:
        """The same name with its alphabetic group set (``WANG^JIANGUO``, or ``WANG JIANGUO``
        as a registrar types it: family first)."""
        spelled = spelled.strip().upper()
        if "^" not in spelled and self.ideographic and " " in spelled:
            family, _, given = spelled.partition(" ")
            spelled = f"{family}^{given.replace(' ', '')}"
        return PersonName(NameGroup.parse(spelled), self.ideographic, self.phonetic)

    def dicom(self) -> str:
        """The DICOM Person Name: ``WANG^JIANGUO=王^建国`` (alphabetic group only for a name
        without Chinese characters)."""
        if not self.ideographic:
            return self.alphabetic.components()
        groups = [self.pinyin(), self.ideographic.components(), self.phonetic.components()]
        return "=".join(groups).rstrip("=")

    def hl7(self) -> tuple[str, str]:
        """(family, given) for an HL7 XPN or XCN: the Chinese characters when there are."""
        g = self.ideographic or self.alphabetic
        return g.family, g.given

    def masked(self) -> str:
        """For public screens and tickets: 张* (张三), 张*丰 (张三丰), 欧**娜 (欧阳娜娜),
        Z*** S** (ZHANG SAN): enough for the patient to recognise, too little for others."""
        return mask_text(self.display())


def display(value: str | PersonName | None) -> str:
    """The name in any shape as a person reads it (``王^建国`` -> ``王建国``)."""
    return PersonName.parse(value).display()


def mask_text(name: str) -> str:
    """The masking rule on a displayed name; an already masked name stays as it is."""
    name = name.strip()
    if not name:
        return ""
    if _CJK.search(name):
        chars = [c for c in name if not c.isspace()]
        if len(chars) <= 1:
            return "".join(chars)
        if len(chars) == 2:
            return chars[0] + "*"
        return chars[0] + "*" * (len(chars) - 2) + chars[-1]
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


def _no_spaces(text: str) -> str:
    return "".join(text.split())


def _is_pinyin(word: str) -> bool:
    """Whether a Latin word is a run of pinyin syllables (``JIANGUO``, ``XIAO MING``)."""
    letters = word.lower().replace(" ", "").replace("-", "")
    return bool(letters) and letters.isascii() and _pinyin_run(letters)


@cache
def _pinyin_run(letters: str) -> bool:
    if not letters:
        return True
    syllables = _syllables()
    return any(
        letters[:n] in syllables and _pinyin_run(letters[n:])
        for n in range(min(6, len(letters)), 0, -1)
    )


@cache
def _syllables() -> frozenset[str]:
    from pypinyin.pinyin_dict import pinyin_dict

    found = {"lyu", "nyu", "lyue", "nyue", "lv", "nv"}
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            plain = "".join(
                c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c)
            )
            found.add(plain)
    # Interjection readings (m, n, ng, hm...) would make many Western names look like pinyin.
    return frozenset(s for s in found if any(v in s for v in "aeiouv"))
