"""Which rules an object matches, and the tasks that makes.

A rule's conditions are shell-style patterns (``CT``, ``*头颅*``, ``CT,MR`` for either),
compared without regard to case; an empty condition matches everything. ``department`` is
the department of the RIS exam the study belongs to (a study without an exam has none, so a
rule naming a department never matches it). Rules and destinations are read at most every
:data:`CACHE_SECONDS`, and an object's series and study attributes are looked up only when an
enabled rule asks about them, so storing an object costs the subscriber little more than the
insert of its tasks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import Engine, select

from core_server import db
from core_server.archive import tables as t
from core_server.ris.tables import ris_exam_studies, ris_exams
from core_server.storage.forwarding import config, queue
from core_server.storage.forwarding.config import Rule

CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Facts:
    """What a rule looks at, of one stored instance."""

    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    source_ae: str = ""
    modality: str = ""
    study_description: str = ""
    department: str = ""


def _fits(pattern: str, value: str) -> bool:
    if not pattern.strip():
        return True
    value = value.strip().upper()
    return any(fnmatchcase(value, p.strip().upper()) for p in pattern.split(",") if p.strip())


def matches(rule: Rule, facts: Facts) -> bool:
    return (
        _fits(rule.modality, facts.modality)
        and _fits(rule.source_ae, facts.source_ae)
        and _fits(rule.sop_class_uid, facts.sop_class_uid)
        and _fits(rule.study_description, facts.study_description)
        and _fits(rule.department, facts.department)
    )


class Matcher:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._read_at = -CACHE_SECONDS

    def active(self) -> list[Rule]:
        """Enabled rules whose destination is enabled (cached a few seconds)."""
        with self._lock:
            if time.monotonic() - self._read_at >= CACHE_SECONDS:
                on = {d.id for d in config.destinations(self.engine) if d.enabled}
                self._rules = [
                    r for r in config.rules(self.engine) if r.enabled and r.destination_id in on
                ]
                self._read_at = time.monotonic()
            return list(self._rules)

    def forget(self) -> None:
        """Read the rules again at the next object (an admin changed them)."""
        with self._lock:
            self._read_at = -CACHE_SECONDS

    def for_stored(self, payload: dict[str, Any]) -> list[queue.Item]:
        """Tasks for an object just stored (``replaced``: a changed object)."""
        changed = payload.get("outcome") == "replaced"
        rules = [r for r in self.active() if (r.on_changed if changed else r.on_new)]
        uid = str(payload.get("sop_instance_uid") or "")
        if not rules or not uid:
            return []
        facts = Facts(
            uid,
            str(payload.get("sop_class_uid") or ""),
            str(payload.get("study_instance_uid") or ""),
            str(payload.get("ae_title") or ""),
        )
        if any(r.modality or r.study_description or r.department for r in rules):
            facts = next(iter(self._facts(sop_uids=[uid])), facts)
        reason = "changed" if changed else "new"
        return [
            queue.Item(
                r.destination_id, uid, facts.sop_class_uid, facts.study_instance_uid, reason, r.id
            )
            for r in rules
            if matches(r, facts)
        ]

    def for_corrected(self, payload: dict[str, Any]) -> list[queue.Item]:
        """Tasks for the objects of a correction (their studies as they are now)."""
        rules = [r for r in self.active() if r.on_changed]
        studies = [str(u) for u in payload.get("new_study_uids") or []]
        if not rules or not studies:
            return []
        return self._items(rules, self._facts(study_uids=studies), "changed")

    def for_rule(self, rule: Rule) -> list[queue.Item]:
        """Tasks for every stored object ``rule`` matches that its destination has not had."""
        items = self._items([rule], self._facts(), "rule")
        had = queue.delivered(self.engine, rule.destination_id, [i.sop_instance_uid for i in items])
        return [i for i in items if i.sop_instance_uid not in had]

    @staticmethod
    def _items(rules: list[Rule], facts: Iterator[Facts], reason: str) -> list[queue.Item]:
        return [
            queue.Item(
                r.destination_id,
                f.sop_instance_uid,
                f.sop_class_uid,
                f.study_instance_uid,
                reason,
                r.id,
            )
            for f in facts
            for r in rules
            if matches(r, f)
        ]

    def _facts(
        self, *, sop_uids: list[str] | None = None, study_uids: list[str] | None = None
    ) -> Iterator[Facts]:
        """Stored instances' facts (all of them, or of these instances or studies)."""
        i, s, st = t.instances, t.series, t.studies
        query = (
            select(
                i.c.sop_instance_uid,
                i.c.sop_class_uid,
                st.c.study_instance_uid,
                i.c.source_ae_title,
                s.c.modality,
                st.c.study_description,
            )
            .join(s, i.c.series_fk == s.c.id)
            .join(st, s.c.study_fk == st.c.id)
            .order_by(st.c.study_instance_uid, i.c.id)
        )
        if sop_uids is not None:
            query = query.where(i.c.sop_instance_uid.in_(sop_uids))
        if study_uids is not None:
            query = query.where(st.c.study_instance_uid.in_(study_uids))
        with db.read(self.engine) as conn:
            rows = conn.execute(query).all()
        departments = self._departments({r.study_instance_uid for r in rows})
        for r in rows:
            yield Facts(
                r.sop_instance_uid,
                r.sop_class_uid,
                r.study_instance_uid,
                r.source_ae_title or "",
                r.modality or "",
                r.study_description or "",
                departments.get(r.study_instance_uid, ""),
            )

    def _departments(self, study_uids: set[str]) -> dict[str, str]:
        """The department of each study's RIS exam (linked, or scheduled under its UID)."""
        found: dict[str, str] = {}
        uids = sorted(study_uids)
        with db.read(self.engine) as conn:
            for start in range(0, len(uids), 500):
                part = uids[start : start + 500]
                scheduled = select(ris_exams.c.study_instance_uid, ris_exams.c.department).where(
                    ris_exams.c.study_instance_uid.in_(part)
                )
                linked = (
                    select(ris_exam_studies.c.study_instance_uid, ris_exams.c.department)
                    .join(ris_exams, ris_exam_studies.c.exam_fk == ris_exams.c.id)
                    .where(ris_exam_studies.c.study_instance_uid.in_(part))
                )
                for query in (scheduled, linked):
                    found.update({str(u): str(d or "") for u, d in conn.execute(query).all()})
        return found
