"""Puts the shipped system templates into the reporting domain's template table, through its
public API (``Reporting.save_template``), on every start: a template whose name is already
among the system templates (active or not) is left alone, so an administrator's edits and
deactivations stay, and a newer release's added templates arrive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from core_server.reporting.models import Template, TemplateField

SHIPPED = Path(__file__).parent / "templates.json"
LOADER = "system"  # the username recorded as the templates' author


class TemplateStore(Protocol):
    def templates(self, username: str, *, include_inactive: bool = False) -> list[Template]: ...

    def save_template(self, username: str, template: Template) -> Template: ...


def shipped_templates(path: Path = SHIPPED) -> list[Template]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for item in data["templates"]:
        fields = tuple(
            TemplateField(**{**f, "choices": tuple(f.get("choices", ()))})
            for f in item.get("fields", [])
        )
        out.append(
            Template(
                id=0,
                name=item["name"],
                scope="system",
                owner="",
                department=item.get("department", ""),
                modality=item["modality"],
                body_part=item.get("body_part", ""),
                keywords=item.get("keywords", ""),
                findings=item["findings"],
                impression=item["impression"],
                fields=fields,
            )
        )
    return out


def load_system_templates(store: TemplateStore, path: Path = SHIPPED) -> int:
    """Add the shipped templates not yet present; the number added."""
    have = {t.name for t in store.templates(LOADER, include_inactive=True) if t.scope == "system"}
    added = 0
    for template in shipped_templates(path):
        if template.name not in have:
            store.save_template(LOADER, template)
            added += 1
    return added
