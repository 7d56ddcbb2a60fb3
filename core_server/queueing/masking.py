"""Masking patient names for public screens and tickets (张三 -> 张*, 张三丰 -> 张*丰,
欧阳娜娜 -> 欧**娜): enough for the patient to recognise, too little for a bystander."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def mask_name(name: str) -> str:
    name = name.strip()
    if not name:
        return ""
    if "^" in name:  # a DICOM person name reached us: show it as words
        name = " ".join(part for part in name.split("^") if part)
    if _CJK.search(name):
        chars = [c for c in name if not c.isspace()]
        if len(chars) == 1:
            return chars[0]
        if len(chars) == 2:
            return chars[0] + "*"
        return chars[0] + "*" * (len(chars) - 2) + chars[-1]
    # Latin names (foreigners, pinyin): the first letter of each word.
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())
