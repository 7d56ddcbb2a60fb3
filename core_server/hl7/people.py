"""Names in the messages we send: the patient (PID-5, XPN) and doctors (XCN, and OBR-32's NDL),
from :class:`core_server.names.PersonName` (``.hl7()``: family, given), in what the
destination's character set can carry.

PID-5 repeats the name: first the Chinese characters (XPN-8 ``I``, ideographic) when the
character set carries them, then the pinyin (``A``, alphabetic), both with XPN-7 ``L`` (legal
name); a Western name is its one alphabetic repetition.
"""

from __future__ import annotations

from core_server.hl7.message import escape
from core_server.names import NameGroup, PersonName


def fits(text: str, codec: str) -> bool:
    """Whether the destination's character set can carry ``text``."""
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def text(value: str, codec: str) -> str:
    """Escaped text when the character set can carry it, else empty."""
    return escape(value) if fits(value, codec) else ""


def person(name: str, spelled: str = "") -> PersonName:
    """The name the RIS keeps (``王^建国`` and ``WANG^JIANGUO``, or typed ``王建国``)."""
    parsed = PersonName.parse(name)
    if spelled.strip() and parsed.ideographic and "=" not in name:
        return PersonName(NameGroup.parse(spelled.strip().upper()), parsed.ideographic)
    return parsed


def _alphabetic(name: PersonName) -> NameGroup:
    return name.alphabetic or NameGroup.parse(name.pinyin())


def xpn(name: PersonName, codec: str) -> str:
    """PID-5: the repetitions the character set can carry (see the module's docstring)."""
    out = []
    if name.ideographic:
        family, given = name.hl7()
        if fits(family + given, codec):
            out.append(f"{escape(family)}^{escape(given)}^^^^^L^I")
    latin = _alphabetic(name)
    if latin and fits(latin.family + latin.given, codec):
        out.append(f"{escape(latin.family)}^{escape(latin.given)}^^^^^L^A")
    return "~".join(out)


def family_given(name: PersonName, codec: str) -> tuple[str, str]:
    """A doctor's (family, given) as written, or in pinyin when the set cannot carry it."""
    family, given = name.hl7()
    if fits(family + given, codec):
        return family, given
    latin = _alphabetic(name)
    return (latin.family, latin.given) if fits(latin.family + latin.given, codec) else ("", "")


def ndl(user_id: str, display_name: str, codec: str) -> str:
    """OBR-32 (principal result interpreter, NDL): its first component is a CNN, so the ID,
    family and given names are subcomponents: ``chen.zr&陈&主任``."""
    if not fits(user_id, codec):
        return ""
    family, given = "", ""
    if display_name and display_name != user_id:  # a user without a name is their ID alone
        family, given = family_given(PersonName.parse(display_name), codec)
    return "&".join([escape(user_id), escape(family), escape(given)]).rstrip("&")
