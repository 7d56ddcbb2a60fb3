"""The shipped Chinese system templates: loaded through the reporting domain's API at first
start, structured ones with typed fields, loaded once (an administrator's changes stay)."""

from __future__ import annotations

from pathlib import Path

from core_server import db
from core_server.events import EventBus
from core_server.reporting import Reporting, Template
from core_server.reporting.content import load_system_templates, shipped_templates
from core_server.ris import Ris


def test_system_templates_are_loaded_once_with_their_fields(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    try:
        db.migrate(engine)
        bus = EventBus()
        reporting = Reporting(engine, bus, Ris(engine, bus))
        shipped = shipped_templates()
        assert load_system_templates(reporting) == len(shipped) >= 20

        loaded = {t.name: t for t in reporting.templates("li.doctor") if t.scope == "system"}
        assert set(loaded) == {t.name for t in shipped}
        modalities = {t.modality for t in loaded.values()}
        assert {"CT", "MR", "DX", "MG", "US", "ES"} <= modalities

        thyroid = loaded["甲状腺彩超（TI-RADS结构化）"]
        assert thyroid.body_part == "THYROID" and "低回声" in "".join(
            c for f in thyroid.fields for c in f.choices
        )
        tirads = {f.id: f for f in thyroid.fields}["tirads"]
        assert tirads.type == "choice" and tirads.required and "4A" in tirads.choices
        nodule = {f.id: f for f in loaded["胸部CT肺结节（结构化）"].fields}["diameter"]
        assert (nodule.type, nodule.unit, nodule.minimum) == ("number", "mm", 1)
        assert {f.id for f in loaded["胃镜检查（结构化）"].fields} >= {"stomach", "hp", "biopsy"}
        head = reporting.templates("li.doctor", modality="CT", body_part="HEAD")
        assert "<p>颅骨骨质完整，未见明确骨折征象。</p>" in head[0].findings

        # An administrator retires one; a restart loads nothing again and keeps it retired.
        retired = loaded["胸部正位片（肺炎）"]
        reporting.save_template(
            "admin",
            Template(**{**retired.as_dict(), "fields": retired.fields, "active": False}),
            template_id=retired.id,
        )
        assert load_system_templates(reporting) == 0
        names = [t.name for t in reporting.templates("li.doctor") if t.scope == "system"]
        assert "胸部正位片（肺炎）" not in names and len(names) == len(shipped) - 1
    finally:
        engine.dispose()
