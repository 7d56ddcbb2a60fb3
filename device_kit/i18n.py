"""The device programs' message catalogue: ``device_kit/messages/<program>.json`` files of
``{"key": {"zh": ..., "en": ...}}`` (the same shape as the core's web catalogue; a device never
imports the core). Simplified Chinese first, English second."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

MESSAGES_DIR = Path(__file__).parent / "messages"
LANGUAGES = ("zh", "en")


@cache
def _catalogue(area: str) -> dict[str, dict[str, str]]:
    with (MESSAGES_DIR / f"{area}.json").open(encoding="utf-8") as f:
        data: dict[str, dict[str, str]] = json.load(f)
    for key, texts in data.items():
        if set(texts) != set(LANGUAGES):
            raise ValueError(f"message {area}.{key} needs exactly {LANGUAGES}, has {set(texts)}")
    return data


class Messages:
    """Texts of one area (``"queue_display"``, ``"common"``...) in one language; ``common``
    is always searched after the area."""

    def __init__(self, area: str, language: str = "zh") -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
        self.language = language
        self._areas = (_catalogue(area), _catalogue("common"))

    def __call__(self, key: str, **values: object) -> str:
        for area in self._areas:
            if key in area:
                return area[key][self.language].format(**values)
        raise KeyError(f"no message {key!r}")

    def both(self, key: str, **values: object) -> str:
        """Chinese and English together, for a screen read by both."""
        zh = Messages.__call__(self._with("zh"), key, **values)
        en = Messages.__call__(self._with("en"), key, **values)
        return zh if zh == en else f"{zh} / {en}"

    def _with(self, language: str) -> Messages:
        other = object.__new__(Messages)
        other.language = language
        other._areas = self._areas
        return other
