"""The message catalogue: every area's file merges into one, every key in both languages, and
every key a template, script or page uses exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core_server import auth, i18n
from core_server.web.shell import pages
from core_server.web.templating import MENUS, STATIC_DIR, TEMPLATES_DIR, feature_dirs

WEB_DIR = Path(i18n.__file__).parent


def test_the_installed_catalogue_is_complete() -> None:
    catalogue = i18n.load_catalogue()
    assert len(catalogue) > 100
    for key, texts in catalogue.items():
        assert set(texts) == set(i18n.LANGUAGES), key
        assert all(texts[lang].strip() for lang in i18n.LANGUAGES), key


def _write(folder: Path, name: str, entries: object) -> None:
    (folder / name).write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "complaint"),
    [
        ({"a.json": {"a.k": {"zh": "甲"}}}, "no text for en"),
        ({"a.json": {"a.k": {"zh": "", "en": "A"}}}, "no text for zh"),
        ({"a.json": {"a.k": "甲"}}, "must map languages"),
        (
            {"a.json": {"k": {"zh": "甲", "en": "A"}}, "b.json": {"k": {"zh": "乙", "en": "B"}}},
            "also in a.json",
        ),
        ({"a.json": {"a.k": {"zh": "{n} 岁", "en": "{years} y"}}}, "placeholders differ"),
        ({"a.json": ["not", "an", "object"]}, "top level"),
    ],
)
def test_loading_refuses_an_inconsistent_catalogue(
    tmp_path: Path, files: dict[str, object], complaint: str
) -> None:
    for name, entries in files.items():
        _write(tmp_path, name, entries)
    with pytest.raises(i18n.CatalogueError, match=complaint):
        i18n.load_catalogue(tmp_path)


def test_loading_refuses_broken_json(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{", encoding="utf-8")
    with pytest.raises(i18n.CatalogueError, match=r"a\.json: not valid JSON"):
        i18n.load_catalogue(tmp_path)


def test_areas_merge(tmp_path: Path) -> None:
    _write(tmp_path, "a.json", {"a.k": {"zh": "甲", "en": "A"}})
    _write(tmp_path, "b.json", {"b.k": {"zh": "乙", "en": "B"}})
    assert i18n.load_catalogue(tmp_path) == {
        "a.k": {"zh": "甲", "en": "A"},
        "b.k": {"zh": "乙", "en": "B"},
    }


def test_translate_and_language_choice() -> None:
    assert i18n.translate("zh", "web.studies.age", years=42) == "42 岁"
    assert i18n.translate("en", "web.studies.age", years=42) == "42 y"
    assert i18n.translate("fr", "web.login.title") == "登录"  # unknown language: Chinese
    with pytest.raises(KeyError):
        i18n.translate("zh", "web.no.such.key")
    assert i18n.language({}) == "zh"
    assert i18n.language({"lang": "en"}) == "en"
    assert i18n.language({"lang": "xx"}) == "zh"


_LITERAL_IN_TEMPLATE = re.compile(r"""\bt\(\s*['"]([A-Za-z0-9_.]+)['"]\s*[,)]""")
_LITERAL_IN_SCRIPT = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.]+)["']""")
_KEY_IN_PYTHON = re.compile(r"""["'](web\.[a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")


def _used(folder: Path, pattern: str, regex: re.Pattern[str]) -> set[tuple[str, str]]:
    return {
        (str(path.relative_to(folder)), key)
        for path in folder.rglob(pattern)
        for key in regex.findall(path.read_text(encoding="utf-8"))
        if not key.endswith(".")  # a prefix the code completes: checked with "built" below
    }


def test_every_key_in_use_exists() -> None:
    """Literal keys in every area's templates and scripts and in this shell's code, and the keys
    the shell builds from roles, audit actions, modality settings and languages."""
    catalogue = i18n.load_catalogue()
    used = (
        _used(TEMPLATES_DIR, "*.html", _LITERAL_IN_TEMPLATE)
        | _used(STATIC_DIR, "*.js", _LITERAL_IN_SCRIPT)
        | _used(WEB_DIR, "*.py", _KEY_IN_PYTHON)
    )
    for folder in feature_dirs("templates").values():  # web/<feature>/templates, static
        used |= _used(folder, "*.html", _LITERAL_IN_TEMPLATE)
    for folder in feature_dirs("static").values():
        used |= _used(folder, "*.js", _LITERAL_IN_SCRIPT)
    assert len(used) > 80
    built = (
        [f"web.role.{role}" for role in auth.ROLES]
        + [f"audit.{action}" for action in pages.AUDIT_ACTIONS]
        + [f"web.modalities.{flag}" for flag in pages.MODALITY_FLAGS]
        + [f"web.studies.report.{state}" for state in pages.REPORT_STATUSES]
        + [f"web.nav.menu.{menu}" for menu in MENUS]
        + [f"web.lang.{lang}" for lang in i18n.LANGUAGES]
    )
    missing = sorted({f"{where}: {key}" for where, key in used if key not in catalogue})
    missing += [key for key in built if key not in catalogue]
    assert missing == []
