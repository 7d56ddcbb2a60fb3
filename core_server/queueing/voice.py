"""The words a waiting-room screen speaks for a call, from the queue's template."""

from __future__ import annotations

import re
import string

from core_server.queueing.models import Invalid

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
        raise Invalid(
            "invalid", f"语音模板括号不匹配: {template}", f"unbalanced braces: {template}"
        ) from None
    unknown = [f for f in fields if f not in PLACEHOLDERS]
    if unknown:
        names = "、".join("{" + k + "}" for k in ("号码", "姓名", "诊室", "队列"))
        raise Invalid(
            "invalid",
            f"语音模板中未知的占位符 {unknown}，可用: {names}",
            f"unknown placeholders {unknown} in the voice template; known: {names}",
        )


def spoken_name(name: str, mode: str) -> str:
    """``full`` speaks the name, ``surname`` the surname and 某 for the rest, ``none`` nothing."""
    if mode == "none" or not name:
        return ""
    if mode == "surname":
        if re.search(r"[\u3400-\u9fff]", name):
            return name[0] + "某" * max(1, len(name) - 1)
        return name.split()[0] if name.split() else ""
    return name


def render(template: str, *, number: str, name: str, room: str, queue: str) -> str:
    values = {"number": number, "name": name, "room": room, "queue": queue}
    text = template
    for placeholder, key in PLACEHOLDERS.items():
        text = text.replace("{" + placeholder + "}", values[key])
    return text
