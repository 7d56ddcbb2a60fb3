"""Compression rules, edited by the administrator: which objects (modality, SOP class, source
AE title, age) are compressed to which transfer syntax, and when (``on_ingest``: soon after the
C-STORE was acknowledged; ``on_schedule``: once older than ``min_age_days``). Lossless unless
the rule names lossy JPEG 2000 with a ratio. Of several rules of one trigger that match an
instance, the first by position (then id) decides."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from core_server import clock, db
from core_server.archive import recompress
from core_server.refusals import Invalid, NotFound
from core_server.storage.compression import codecs
from core_server.storage.compression.tables import compression_rules as rules

TRIGGERS = ("on_ingest", "on_schedule")
TARGETS = (*codecs.LOSSLESS, *codecs.LOSSY)


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    enabled: bool
    position: int
    modalities: tuple[str, ...]
    sop_class_uid: str
    source_ae_title: str
    min_age_days: int
    trigger: str
    transfer_syntax_uid: str
    ratio: float | None
    scanned_to_id: int
    updated_at: datetime
    updated_by: str

    @property
    def target(self) -> codecs.Target:
        return codecs.Target(self.transfer_syntax_uid, self.ratio)

    def matches(self, found: recompress.Online, now: datetime) -> bool:
        if self.modalities and found.modality not in self.modalities:
            return False
        if self.sop_class_uid and found.sop_class_uid != self.sop_class_uid:
            return False
        if self.source_ae_title and found.source_ae_title != self.source_ae_title:
            return False
        return self.trigger == "on_ingest" or found.received_at < self.cutoff(now)

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.min_age_days)

    def json(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["modalities"] = list(self.modalities)
        shown["updated_at"] = clock.iso(self.updated_at)
        shown["lossy"] = self.ratio is not None
        return shown


def _rule(row: Any) -> Rule:
    return Rule(
        id=int(row.id),
        name=row.name,
        enabled=bool(row.enabled),
        position=int(row.position),
        modalities=tuple(m for m in row.modalities.split(",") if m),
        sop_class_uid=row.sop_class_uid,
        source_ae_title=row.source_ae_title,
        min_age_days=int(row.min_age_days),
        trigger=row.trigger,
        transfer_syntax_uid=row.transfer_syntax_uid,
        ratio=row.ratio,
        scanned_to_id=int(row.scanned_to_id),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def all_rules(engine: Engine) -> list[Rule]:
    with db.read(engine) as conn:
        rows = conn.execute(select(rules).order_by(rules.c.position, rules.c.id)).all()
    return [_rule(r) for r in rows]


def get(engine: Engine, rule_id: int) -> Rule:
    with db.read(engine) as conn:
        row = conn.execute(select(rules).where(rules.c.id == rule_id)).first()
    if row is None:
        raise NotFound("storage.compression.rule_unknown", rule_id=rule_id)
    return _rule(row)


def checked(values: dict[str, Any]) -> dict[str, Any]:
    """A rule's editable values made into columns, or :class:`Invalid`."""
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 64:
        raise Invalid("storage.compression.name_required")
    trigger = str(values.get("trigger") or "")
    if trigger not in TRIGGERS:
        raise Invalid("storage.compression.trigger_unknown", triggers=", ".join(TRIGGERS))
    syntax = str(values.get("transfer_syntax_uid") or "")
    if syntax not in TARGETS:
        raise Invalid("storage.compression.syntax_unknown", syntaxes=", ".join(TARGETS))
    ratio = values.get("ratio")
    try:
        ratio = None if ratio in (None, "") else float(ratio)
        codecs.Target(syntax, ratio)
    except (TypeError, ValueError):
        raise Invalid("storage.compression.ratio") from None
    try:
        days = int(values.get("min_age_days") or 0)
        position = int(values.get("position") or 0)
    except (TypeError, ValueError):
        raise Invalid("storage.compression.number") from None
    if days < 0 or (trigger == "on_schedule") != (days > 0):
        raise Invalid("storage.compression.age")
    modalities = values.get("modalities") or []
    if isinstance(modalities, str):
        modalities = modalities.split(",")
    cleaned = sorted({str(m).strip().upper() for m in modalities if str(m).strip()})
    ae = str(values.get("source_ae_title") or "").strip()
    sop_class = str(values.get("sop_class_uid") or "").strip()
    if len(ae) > 16 or len(sop_class) > 64 or len(",".join(cleaned)) > 128:
        raise Invalid("storage.compression.too_long")
    return {
        "name": name,
        "enabled": bool(values.get("enabled", True)),
        "position": position,
        "modalities": ",".join(cleaned),
        "sop_class_uid": sop_class,
        "source_ae_title": ae,
        "min_age_days": days,
        "trigger": trigger,
        "transfer_syntax_uid": syntax,
        "ratio": ratio,
    }


def create(engine: Engine, values: dict[str, Any], username: str) -> Rule:
    """A new rule. An ``on_ingest`` rule applies to objects stored from now on (its scan
    starts after the newest instance); an ``on_schedule`` one to every old enough object."""
    columns = checked(values)
    now = clock.now()
    start = recompress.last_instance_id(engine) if columns["trigger"] == "on_ingest" else 0
    with db.write(engine) as conn:
        rule_id = conn.execute(
            insert(rules)
            .values(
                **columns,
                scanned_to_id=start,
                created_at=now,
                updated_at=now,
                updated_by=username,
            )
            .returning(rules.c.id)
        ).scalar_one()
    return get(engine, int(rule_id))


def change(engine: Engine, rule_id: int, values: dict[str, Any], username: str) -> Rule:
    """Edit a rule. Changed conditions of an ``on_schedule`` rule are looked at again from the
    oldest object (its scan starts over); an ``on_ingest`` one keeps to new objects."""
    before = get(engine, rule_id)
    columns = checked(values)
    restart = columns["trigger"] == "on_schedule" and (
        before.trigger != "on_schedule"
        or columns["modalities"] != ",".join(before.modalities)
        or columns["sop_class_uid"] != before.sop_class_uid
        or columns["source_ae_title"] != before.source_ae_title
        or columns["transfer_syntax_uid"] != before.transfer_syntax_uid
        or columns["ratio"] != before.ratio
    )
    if restart:
        columns["scanned_to_id"] = 0
    elif columns["trigger"] == "on_ingest" and before.trigger != "on_ingest":
        columns["scanned_to_id"] = recompress.last_instance_id(engine)
    with db.write(engine) as conn:
        conn.execute(
            update(rules)
            .where(rules.c.id == rule_id)
            .values(**columns, updated_at=clock.now(), updated_by=username)
        )
    return get(engine, rule_id)


def remove(engine: Engine, rule_id: int) -> None:
    get(engine, rule_id)
    with db.write(engine) as conn:
        conn.execute(delete(rules).where(rules.c.id == rule_id))


def deciding(ordered: list[Rule], found: recompress.Online, now: datetime) -> Rule | None:
    """The rule that decides for ``found`` among enabled rules of one trigger, in order."""
    for rule in ordered:
        if rule.enabled and rule.matches(found, now):
            return rule
    return None
