"""The admin-edited lifecycle rules (docs/storage-rules.md): what each says, its checks, and
the rows of ``storage_rules``.

A rule is conditions (modality, age since received or since the study date, RIS exam status,
source AE, the RIS exam's department, series description pattern, SOP class) and one action:

- ``land``: a new object matching gets a copy on ``area`` at once (outside the idle hours
  too); the online file stays (every object is stored online first).
- ``copy``: a copy on ``area``.
- ``move``: a copy on ``area``, then the online file dropped once ``min_verified`` verified
  copies exist elsewhere ("delete from online only when two verified copies exist" is
  ``min_verified=2``).
- ``keep_online_until``: while the online area is over ``fill_percent`` full, move the studies
  read longest ago (oldest-read first) to ``area`` until it is under again.
- ``delete_copy_after``: a copy on ``area`` older than ``days`` is erased (never the last one
  of an object that is not online).

Lower ``priority`` runs first; of two move-like rules matching one object the first wins.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from core_server import clock, db
from core_server.archive.areas import ONLINE
from core_server.archive.areas.registry import Areas
from core_server.refusals import Invalid, NotFound, Refusal
from core_server.ris.models import ExamStatus
from core_server.storage.tiers.rules_tables import storage_rules as table

ACTIONS = ("land", "copy", "move", "keep_online_until", "delete_copy_after")
AGE_FROM = ("received", "study_date")
STATUSES = tuple(s.value for s in ExamStatus)
# The task each action makes.
TASK_KIND = {
    "land": "copy",
    "copy": "copy",
    "move": "move",
    "keep_online_until": "move",
    "delete_copy_after": "delete_copy",
}
_CODE = re.compile(r"^[A-Za-z0-9_. -]{1,64}$")


@dataclass
class Conditions:
    modalities: list[str] = field(default_factory=list)
    min_age_days: int = 0
    age_from: str = "received"
    statuses: list[str] = field(default_factory=list)
    source_aes: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    series_description: str = ""  # a pattern: * any text, ? one character, case ignored
    sop_classes: list[str] = field(default_factory=list)


@dataclass
class Rule:
    name: str
    action: str
    area: str = ""
    enabled: bool = True
    priority: int = 100
    min_verified: int = 1
    fill_percent: int = 0
    days: int = 0
    conditions: Conditions = field(default_factory=Conditions)
    id: int | None = None
    created_by: str = ""

    @property
    def task_kind(self) -> str:
        return TASK_KIND[self.action]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _strings(body: dict[str, Any], name: str, upper: bool = False) -> list[str]:
    value = body.get(name) or []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("storage.rules.field", field=name)
    cleaned = [v.strip().upper() if upper else v.strip() for v in value if v.strip()]
    if any(not _CODE.match(v) for v in cleaned):
        raise Invalid("storage.rules.field", field=name)
    return list(dict.fromkeys(cleaned))


def _int(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if value in (None, ""):
        value = default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid("storage.rules.field", field=name)
    try:
        number = int(value)
    except ValueError:
        raise Invalid("storage.rules.field", field=name) from None
    if not low <= number <= high:
        raise Invalid("storage.rules.range", field=name, low=low, high=high)
    return number


def conditions_from(body: dict[str, Any]) -> Conditions:
    if not isinstance(body, dict):
        raise Invalid("storage.rules.field", field="conditions")
    age_from = str(body.get("age_from") or "received")
    if age_from not in AGE_FROM:
        raise Invalid("storage.rules.field", field="age_from")
    statuses = _strings(body, "statuses")
    if any(s not in STATUSES for s in statuses):
        raise Invalid("storage.rules.status", known=", ".join(STATUSES))
    pattern = str(body.get("series_description") or "").strip()
    if len(pattern) > 64:
        raise Invalid("storage.rules.field", field="series_description")
    return Conditions(
        modalities=_strings(body, "modalities", upper=True),
        min_age_days=_int(body, "min_age_days", 0, 0, 36500),
        age_from=age_from,
        statuses=statuses,
        source_aes=_strings(body, "source_aes"),
        departments=_strings(body, "departments"),
        series_description=pattern,
        sop_classes=_strings(body, "sop_classes"),
    )


def rule_from(body: dict[str, Any], areas: Areas, rule_id: int | None = None) -> Rule:
    """A checked rule from a REST body (422 naming the field that is wrong)."""
    if not isinstance(body, dict):
        raise Invalid("storage.rules.field", field="body")
    name = str(body.get("name") or "").strip()
    if not name or len(name) > 100:
        raise Invalid("storage.rules.name")
    action = str(body.get("action") or "")
    if action not in ACTIONS:
        raise Invalid("storage.rules.action", known=", ".join(ACTIONS))
    area = str(body.get("area") or "").strip()
    if area == ONLINE or not area:
        raise Invalid("storage.rules.area_needed")
    try:
        areas.spec(area)
    except NotFound:
        raise Invalid("storage.tiers.area_unknown", name=area) from None
    rule = Rule(
        name=name,
        action=action,
        area=area,
        enabled=bool(body.get("enabled", True)),
        priority=_int(body, "priority", 100, 0, 10000),
        min_verified=_int(body, "min_verified", 1, 1, 5),
        fill_percent=_int(body, "fill_percent", 0, 0, 99),
        days=_int(body, "days", 0, 0, 36500),
        conditions=conditions_from(body.get("conditions") or {}),
        id=rule_id,
    )
    if action == "keep_online_until" and rule.fill_percent < 1:
        raise Invalid("storage.rules.range", field="fill_percent", low=1, high=99)
    if action == "delete_copy_after" and rule.days < 1:
        raise Invalid("storage.rules.range", field="days", low=1, high=36500)
    return rule


def _row_rule(row: Any) -> Rule:
    try:
        conditions = conditions_from(json.loads(row.conditions or "{}"))
    except (ValueError, Refusal):  # a hand-edited row: read as no conditions
        conditions = Conditions()
    return Rule(
        name=row.name,
        action=row.action,
        area=row.area,
        enabled=bool(row.enabled),
        priority=int(row.priority),
        min_verified=int(row.min_verified),
        fill_percent=int(row.fill_percent),
        days=int(row.days),
        conditions=conditions,
        id=int(row.id),
        created_by=row.created_by,
    )


def _values(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "action": rule.action,
        "area": rule.area,
        "enabled": rule.enabled,
        "priority": rule.priority,
        "min_verified": rule.min_verified,
        "fill_percent": rule.fill_percent,
        "days": rule.days,
        "conditions": json.dumps(asdict(rule.conditions), ensure_ascii=False),
    }


def listing(engine: Engine, *, enabled_only: bool = False) -> list[Rule]:
    query = select(table).order_by(table.c.priority, table.c.id)
    if enabled_only:
        query = query.where(table.c.enabled.is_(True))
    with db.read(engine) as conn:
        return [_row_rule(r) for r in conn.execute(query)]


def get(engine: Engine, rule_id: int) -> Rule:
    with db.read(engine) as conn:
        row = conn.execute(select(table).where(table.c.id == rule_id)).first()
    if row is None:
        raise NotFound("storage.rules.unknown", rule_id=rule_id)
    return _row_rule(row)


def create(engine: Engine, rule: Rule, username: str) -> Rule:
    now = clock.now()
    with db.write(engine) as conn:
        rule_id = conn.execute(
            insert(table)
            .values(**_values(rule), created_by=username, created_at=now, updated_at=now)
            .returning(table.c.id)
        ).scalar_one()
    return get(engine, int(rule_id))


def replace(engine: Engine, rule_id: int, rule: Rule) -> Rule:
    get(engine, rule_id)
    with db.write(engine) as conn:
        conn.execute(
            update(table)
            .where(table.c.id == rule_id)
            .values(**_values(rule), updated_at=clock.now())
        )
    return get(engine, rule_id)


def remove(engine: Engine, rule_id: int) -> None:
    """The rule goes; tasks it made and not yet done stay (each is one object's safe step)."""
    get(engine, rule_id)
    with db.write(engine) as conn:
        conn.execute(delete(table).where(table.c.id == rule_id))
