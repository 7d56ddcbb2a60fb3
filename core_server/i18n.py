"""The one message catalogue: every user-facing string of the core, in Chinese and English.

Each web feature keeps its own file, ``web/<feature>/messages.json``, or one per part of a
large feature, ``web/<feature>/messages.<part>.json`` (older areas still
``web/messages/<area>.json``): ``{"key": {"zh": "...", "en": "..."}}``. The texts of a domain's
refusals (:class:`core_server.refusals.Refusal`) live in its feature's file under the refusal's
code. All files merge into one catalogue; loading refuses a key defined twice, a key missing a
language, an empty text, or a text whose ``{placeholders}`` differ between the languages, so a
gap is a start-up (and test) failure, not a blank on screen. Prefix keys with the area
(``ris.worklist.title``) to keep them apart.

The language of a request: the ``lang`` cookie (set by the switch in the page header) if it
names a known language, else the ``Accept-Language`` header's first known one, else Simplified
Chinese.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANG_COOKIE = "lang"
# What ``<html lang>`` says for each language.
HTML_LANG = {"zh": "zh-CN", "en": "en"}
WEB_DIR = Path(__file__).parent / "web"
MESSAGES_DIR = WEB_DIR / "messages"

Catalogue = Mapping[str, Mapping[str, str]]


class CatalogueError(ValueError):
    """The message files are inconsistent; the message says which file and key."""


def message_files(web_dir: Path = WEB_DIR) -> list[Path]:
    """Every message file: ``web/messages/*.json`` and each feature's ``web/*/messages*.json``."""
    features = sorted(web_dir.glob("*/messages.json")) + sorted(web_dir.glob("*/messages.*.json"))
    return sorted((web_dir / "messages").glob("*.json")) + features


def load_catalogue(directory: Path | None = None) -> dict[str, dict[str, str]]:
    """The merged catalogue of ``directory``'s ``*.json`` files, or of :func:`message_files`."""
    merged: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}
    files = sorted(directory.glob("*.json")) if directory is not None else message_files()
    if not files:
        raise CatalogueError(f"no message files in {directory or WEB_DIR}")
    for path in files:
        feature = path.name.startswith("messages")
        name = f"{path.parent.name}/{path.name}" if feature else path.name
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CatalogueError(f"{name}: not valid JSON: {exc}") from None
        if not isinstance(entries, dict):
            raise CatalogueError(f"{name}: the top level must be an object of keys")
        for key, texts in entries.items():
            if key in merged:
                raise CatalogueError(f"{name}: key {key!r} is also in {origin[key]}")
            merged[key] = _checked(name, key, texts)
            origin[key] = name
    return merged


def _checked(filename: str, key: str, texts: Any) -> dict[str, str]:
    if not isinstance(texts, dict):
        raise CatalogueError(f"{filename}: {key!r} must map languages to texts")
    missing = [
        lang for lang in LANGUAGES if not isinstance(texts.get(lang), str) or not texts[lang]
    ]
    if missing:
        raise CatalogueError(f"{filename}: {key!r} has no text for {', '.join(missing)}")
    fields = {lang: _placeholders(texts[lang]) for lang in LANGUAGES}
    if len({frozenset(f) for f in fields.values()}) > 1:
        raise CatalogueError(f"{filename}: {key!r} placeholders differ between languages: {fields}")
    return {lang: texts[lang] for lang in LANGUAGES}


def _placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}
    except ValueError as exc:
        raise CatalogueError(f"bad placeholder in {text!r}: {exc}") from None


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """The catalogue of the installed message files, read once per process."""
    return load_catalogue()


def translate(lang: str, key: str, /, **values: object) -> str:
    """The text of ``key`` in ``lang``; an unknown key raises ``KeyError`` (tests catch it)."""
    text = catalogue()[key][lang if lang in LANGUAGES else DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


def label(lang: str, key: str, fallback: str) -> str:
    """The text of ``key`` if some area defines it, else ``fallback`` (for names other areas
    may or may not have labelled, such as audit actions)."""
    texts = catalogue().get(key)
    return texts[lang if lang in LANGUAGES else DEFAULT_LANGUAGE] if texts else fallback


def language(cookies: Mapping[str, str], accept_language: str = "") -> str:
    """The ``lang`` cookie's language, else the first known one of an ``Accept-Language``
    header (API clients), else Simplified Chinese."""
    chosen = cookies.get(LANG_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return DEFAULT_LANGUAGE


def bundle(lang: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """The texts whose keys start with one of ``prefixes``, for a page's script."""
    return {
        key: texts[lang if lang in LANGUAGES else DEFAULT_LANGUAGE]
        for key, texts in catalogue().items()
        if key.startswith(prefixes)
    }
