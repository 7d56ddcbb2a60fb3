"""The words a waiting-room screen speaks for a call, from the queue's template.

The spoken words are said aloud in the waiting room, so ``voice_text`` (in the screen state and
the ``ticket.called`` event) carries the name as it will be heard, chosen by the display setting
``voice_name``: ``full`` (default: 请CT001号王建国到CT一室检查; a masked 王*国 cannot be spoken),
``surname`` (王某某) or ``none`` (the number only). Written names on screens stay masked.
"""

from __future__ import annotations

import string

from core_server.names import PersonName
from core_server.queueing.refusals import invalid

# Placeholders a template may use, in Chinese (as administrators write them) or English.
PLACEHOLDERS = {
    "号码": "number",
    "number": "number",
    "姓名": "name",
    "name": "name",
    "诊室": "room",
    "room": "room",
    "队列": "queue",
    "queue": "queue",
}


def check_template(template: str) -> None:
    """Refuse a template naming an unknown placeholder or with unbalanced braces."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError:
        raise invalid("template_braces", template=template) from None
    unknown = [f for f in fields if f not in PLACEHOLDERS]
    if unknown:
        names = "、".join("{" + k + "}" for k in ("号码", "姓名", "诊室", "队列"))
        raise invalid("template_unknown", unknown="、".join(unknown), known=names)


def spoken_name(name: str, mode: str) -> str:
    """``full`` speaks the name as a person reads it (HL7 ``王^建国`` -> 王建国), ``surname``
    the family name and 某 for the rest (王某某, 欧阳某某), ``none`` nothing."""
    person = PersonName.parse(name)
    if mode == "none" or not person:
        return ""
    if mode == "surname":
        if person.is_chinese:
            return person.family + "某" * max(1, len(person.given))
        return person.family.split()[0] if person.family.split() else ""
    return person.display()


def render(template: str, *, number: str, name: str, room: str, queue: str) -> str:
    values = {"number": number, "name": name, "room": room, "queue": queue}
    text = template
    for placeholder, key in PLACEHOLDERS.items():
        text = text.replace("{" + placeholder + "}", values[key])
    return text
