"""How much a report changed between its first submission and its signature: characters
changed (difflib's opcodes over the plain text, CJK compared character by character), what
the report-quality figures average per doctor."""

from __future__ import annotations

import difflib

from core_server.reporting import plain


def report_text(findings: str, impression: str) -> str:
    """The text a reader reads: findings, then impression, without markup."""
    return plain(findings) + "\n" + plain(impression)


def change_size(old: str, new: str) -> int:
    """Characters changed from ``old`` to ``new``: a replacement counts its longer side, an
    insertion or a deletion its length (0 when equal)."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return sum(
        max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )
