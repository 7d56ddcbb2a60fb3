"""Report text: sanitising the editor's HTML, plain text, word-level diffs, word rules.

The editor sends HTML; only the basics a radiology report needs survive (bold, italic,
underline, sub/superscript, paragraphs, line breaks, lists), cleaned by nh3 (the Ammonia
sanitiser): scripts, styles, event attributes and links are dropped, so a report shown in any
page or printed is inert. Special symbols (±, ×, °, µ, ≥...) are plain characters.
"""

from __future__ import annotations

import difflib
import html
import re
from typing import Any

import nh3

from core_server.reporting.models import ReportingError

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "sub", "sup", "p", "br", "ul", "ol", "li", "div"}
MAX_HTML = 200_000  # characters: a report is a few kilobytes; anything near this is a mistake

_BLOCK_END = re.compile(r"</(p|div|li)>|<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
# A diff token: one CJK character (Chinese has no spaces between words), a run of Latin letters
# or digits (with decimal point: "1.5cm" stays "1.5" + "cm"), a run of spaces, any other symbol.
_TOKEN = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[A-Za-z]+|\d+(?:\.\d+)?|\s+|.", re.DOTALL
)


def sanitize(text: str) -> str:
    """The HTML kept for a report field."""
    if len(text) > MAX_HTML:
        raise ReportingError("reporting.text.too_long", length=len(text), limit=MAX_HTML)
    return nh3.clean(text, tags=ALLOWED_TAGS, attributes={}, link_rel=None).strip()


def plain(text: str) -> str:
    """The text of sanitised HTML: paragraphs and line breaks as newlines, entities decoded."""
    text = _BLOCK_END.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def diff(old: str, new: str) -> list[dict[str, str]]:
    """What changed from ``old`` to ``new`` (plain text) as runs: ``{"op": "equal" | "delete" |
    "insert", "text": ...}``; a replacement is a deletion followed by an insertion. A single
    token left equal between two changes (大 in 大小正常 -> 体积增大) is folded into the change,
    as a reader would see it (after diff-match-patch's semantic clean-up)."""
    a, b = tokens(old), tokens(new)
    # Segments: ("equal", tokens) or ("change", old tokens, new tokens).
    segments: list[tuple[str, list[str], list[str]]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            segments.append(("equal", a[i1:i2], a[i1:i2]))
        elif segments and segments[-1][0] == "change":
            segments[-1][1].extend(a[i1:i2])
            segments[-1][2].extend(b[j1:j2])
        else:
            segments.append(("change", a[i1:i2], b[j1:j2]))
    merged: list[tuple[str, list[str], list[str]]] = []
    for index, segment in enumerate(segments):
        between_changes = (
            segment[0] == "equal"
            and len(segment[1]) == 1
            and segment[1][0].isalnum()  # punctuation and spaces stay as anchors
            and 0 < index < len(segments) - 1
            and merged
            and merged[-1][0] == "change"
        )
        if between_changes or (segment[0] == "change" and merged and merged[-1][0] == "change"):
            merged[-1][1].extend(segment[1])
            merged[-1][2].extend(segment[2])
        else:
            merged.append((segment[0], list(segment[1]), list(segment[2])))
    out: list[dict[str, str]] = []
    for kind, removed, added in merged:
        if kind == "equal":
            out.append({"op": "equal", "text": "".join(removed)})
            continue
        if removed:
            out.append({"op": "delete", "text": "".join(removed)})
        if added:
            out.append({"op": "insert", "text": "".join(added)})
    return out


def check_words(text: str, rules: list[Any]) -> list[dict[str, str]]:
    """Problems the word rules find in ``text``: a forbidden word present, or both words of a
    mutually exclusive pair present (e.g. 左 and 右 of one finding, 男 and 子宫)."""
    problems: list[dict[str, str]] = []
    for rule in rules:
        if rule.kind == "forbidden" and rule.word in text:
            problems.append(
                {"kind": "forbidden", "word": rule.word, "other": "", "message": rule.message}
            )
        elif rule.kind == "exclusive" and rule.word in text and rule.other in text:
            problems.append(
                {
                    "kind": "exclusive",
                    "word": rule.word,
                    "other": rule.other,
                    "message": rule.message,
                }
            )
    return problems
